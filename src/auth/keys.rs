//! API key format: `wt_live_` or `wt_test_`, 30 random base62 characters,
//! then a 6-character base62 CRC-32 of the random part — the same shape as
//! GitHub's tokens, so secret scanners recognise a leaked key offline and a
//! mistyped one is refused before any lookup. Only a SHA-256 of the whole key
//! is stored (the key has 178 bits of entropy, so a slow hash adds nothing).

use sha2::{Digest, Sha256};

use super::Secret;
use crate::store::Mode;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_LEN: usize = 30;
const CHECK_LEN: usize = 6;

pub fn prefix(mode: Mode) -> &'static str {
    match mode {
        Mode::Live => "wt_live_",
        Mode::Test => "wt_test_",
    }
}

fn checksum(body: &str) -> String {
    let mut n = crc32fast::hash(body.as_bytes()) as u64;
    let mut out = [b'0'; CHECK_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out.to_vec()).expect("base62 is ascii")
}

/// A fresh key for `mode`.
pub fn generate(mode: Mode) -> Secret {
    generate_with(prefix(mode))
}

/// A fresh secret of the same shape under another prefix (OAuth tokens,
/// codes and client secrets: `wo_at_`, `wo_rt_`, `wo_ac_`, `wo_cs_`).
pub fn generate_with(prefix: &str) -> Secret {
    use rand::RngExt;
    let mut rng = rand::rng();
    let body: String = (0..RANDOM_LEN)
        .map(|_| BASE62[rng.random_range(0..62)] as char)
        .collect();
    Secret::new(format!("{prefix}{body}{}", checksum(&body)))
}

/// Whether `s` is a well-formed secret under `prefix` (length, alphabet,
/// checksum) — refused before any lookup otherwise.
pub fn well_formed(prefix: &str, s: &str) -> bool {
    let Some(rest) = s.strip_prefix(prefix) else {
        return false;
    };
    if rest.len() != RANDOM_LEN + CHECK_LEN || !rest.bytes().all(|b| BASE62.contains(&b)) {
        return false;
    }
    let (body, check) = rest.split_at(RANDOM_LEN);
    checksum(body) == check
}

/// The mode a well-formed key belongs to, or `None` when the prefix,
/// length, alphabet or checksum is wrong.
pub fn parse(key: &str) -> Option<Mode> {
    [Mode::Live, Mode::Test]
        .into_iter()
        .find(|&m| well_formed(prefix(m), key))
}

pub fn hash(key: &Secret) -> Vec<u8> {
    hash_str(key.expose())
}

pub fn hash_str(s: &str) -> Vec<u8> {
    Sha256::digest(s.as_bytes()).to_vec()
}

/// What listings show instead of the key: `wt_live_AbCd…9xYz`.
pub fn hint(key: &Secret) -> String {
    let k = key.expose();
    format!("{}…{}", &k[..12], &k[k.len() - 4..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_typos_do_not() {
        let k = generate(Mode::Test);
        assert!(k.expose().starts_with("wt_test_"));
        assert_eq!(k.expose().len(), 8 + 36);
        assert_eq!(parse(k.expose()), Some(Mode::Test));
        let mut typo = k.expose().to_string();
        let c = typo.pop().unwrap();
        typo.push(if c == 'a' { 'b' } else { 'a' });
        assert_eq!(parse(&typo), None);
        assert_eq!(parse("wt_prod_abc"), None);
        assert!(!format!("{k:?}").contains("wt_"));
    }
}
