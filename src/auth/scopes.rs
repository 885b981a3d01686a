//! Scopes (SPEC §5): `resource:read`, `resource:write`, or a bare `resource`
//! for both. A read action needs `R:read` or `R`; a write action `R:write`
//! or `R`.

use std::fmt;

/// Every scope resource a tool can require (SPEC §3).
pub const KNOWN_RESOURCES: &[&str] = &[
    "products",
    "orders",
    "customers",
    "inventory",
    "catalog",
    "commerce",
    "analytics",
    "platform",
    "ai",
    "marketing",
    "phone",
    "media",
    "documents",
    "workflows",
    "storefront",
    "crm",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Both,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeSet {
    all: bool,
    grants: Vec<(String, Access)>,
}

impl ScopeSet {
    /// Every scope (the local owner).
    pub fn all() -> ScopeSet {
        ScopeSet {
            all: true,
            grants: Vec::new(),
        }
    }

    /// No scope at all.
    pub fn none() -> ScopeSet {
        ScopeSet {
            all: false,
            grants: Vec::new(),
        }
    }

    /// The resources granted (none for the local owner's set, which has
    /// every one without naming them).
    pub fn resources(&self) -> impl Iterator<Item = &str> {
        self.grants.iter().map(|(r, _)| r.as_str())
    }

    /// Parses a space- or comma-separated scope list; unknown resources or
    /// actions are an error that names them.
    pub fn parse(s: &str) -> Result<ScopeSet, String> {
        let mut grants: Vec<(String, Access)> = Vec::new();
        for item in s.split([' ', ',']).filter(|t| !t.is_empty()) {
            let (res, access) = match item.split_once(':') {
                None => (item, Access::Both),
                Some((r, "read")) => (r, Access::Read),
                Some((r, "write")) => (r, Access::Write),
                Some((_, other)) => {
                    return Err(format!(
                        "scope `{item}`: unknown action `{other}` (use `read`, `write`, or the bare resource for both)"
                    ));
                }
            };
            if !KNOWN_RESOURCES.contains(&res) {
                return Err(format!(
                    "scope `{item}`: unknown resource `{res}`; known: {}",
                    KNOWN_RESOURCES.join(", ")
                ));
            }
            match grants.iter_mut().find(|(r, _)| r == res) {
                Some((_, a)) if *a != access => *a = Access::Both,
                Some(_) => {}
                None => grants.push((res.to_string(), access)),
            }
        }
        if grants.is_empty() {
            return Err("no scopes given; e.g. --scopes \"products:read orders\"".into());
        }
        grants.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(ScopeSet { all: false, grants })
    }

    pub fn allows(&self, resource: &str, write: bool) -> bool {
        self.all
            || self.grants.iter().any(|(r, a)| {
                r == resource
                    && match a {
                        Access::Both => true,
                        Access::Read => !write,
                        Access::Write => write,
                    }
            })
    }

    /// Whether every grant of `other` is also granted here.
    pub fn covers(&self, other: &ScopeSet) -> bool {
        if self.all {
            return true;
        }
        if other.all {
            return false;
        }
        other.grants.iter().all(|(r, a)| match a {
            Access::Both => self.allows(r, false) && self.allows(r, true),
            Access::Read => self.allows(r, false),
            Access::Write => self.allows(r, true),
        })
    }

    /// Each grant as a scope string (`products`, `orders:read`, ...); the
    /// local owner's set lists every resource.
    pub fn items(&self) -> Vec<String> {
        if self.all {
            return KNOWN_RESOURCES.iter().map(|r| r.to_string()).collect();
        }
        self.grants
            .iter()
            .map(|(r, a)| match a {
                Access::Both => r.clone(),
                Access::Read => format!("{r}:read"),
                Access::Write => format!("{r}:write"),
            })
            .collect()
    }

    /// The scope string a caller lacks for this access.
    pub fn needed(resource: &str, write: bool) -> String {
        format!("{resource}:{}", if write { "write" } else { "read" })
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.all {
            return f.write_str("* (all scopes)");
        }
        let parts: Vec<String> = self
            .grants
            .iter()
            .map(|(r, a)| match a {
                Access::Both => r.clone(),
                Access::Read => format!("{r}:read"),
                Access::Write => format!("{r}:write"),
            })
            .collect();
        f.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_resource_grants_both() {
        let s = ScopeSet::parse("orders products:read").unwrap();
        assert!(s.allows("orders", true) && s.allows("orders", false));
        assert!(s.allows("products", false));
        assert!(!s.allows("products", true));
        assert!(!s.allows("customers", false));
        assert_eq!(s.to_string(), "orders products:read");
    }

    #[test]
    fn read_plus_write_merge() {
        let s = ScopeSet::parse("orders:read,orders:write").unwrap();
        assert_eq!(s.to_string(), "orders");
    }

    #[test]
    fn unknown_scopes_are_named() {
        let e = ScopeSet::parse("prodcts:read").unwrap_err();
        assert!(e.contains("prodcts"), "{e}");
        let e = ScopeSet::parse("orders:delete").unwrap_err();
        assert!(e.contains("delete"), "{e}");
        assert!(ScopeSet::parse("  ").is_err());
    }
}
