//! Generated files and user-visible output that must not change unnoticed:
//! shell completions, man pages and docs/tools.md must match what the
//! binary generates now; tool schemas and `--help` texts are insta
//! snapshots (with `CI=true`, insta fails on a change instead of writing).
//!
//! After an intended change: `UPDATE_GENERATED=1 cargo test --test generated`
//! rewrites completions/, man/ and docs/tools.md, and `cargo insta review`
//! (or `INSTA_UPDATE=always`) accepts new snapshots.
#![allow(clippy::disallowed_methods)] // tests read their own switches from the environment

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn whale(args: &[&str]) -> String {
    let dir = std::env::temp_dir().join(format!("whale-gen-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_whale"))
        .args(args)
        .env("WHALE_DB", dir.join("whale.db"))
        .env_remove("WHALETOOLS_API_KEY")
        .env_remove("WHALE_STORE")
        .env("COLUMNS", "100")
        .output()
        .expect("run whale");
    assert!(
        out.status.success(),
        "whale {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Compares `actual` with the committed file, or rewrites it when
/// `UPDATE_GENERATED` is set.
fn check_file(path: &Path, actual: &str) {
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == actual,
        "{} is stale; run `UPDATE_GENERATED=1 cargo test --test generated` and commit the result",
        path.display()
    );
}

#[test]
fn completions_are_fresh() {
    for (shell, file) in [
        ("bash", "whale.bash"),
        ("zsh", "_whale"),
        ("fish", "whale.fish"),
        ("powershell", "_whale.ps1"),
    ] {
        check_file(
            &repo().join("completions").join(file),
            &whale(&["completions", shell]),
        );
    }
}

#[test]
fn man_pages_are_fresh() {
    let dir = std::env::temp_dir().join(format!("whale-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    whale(&["man", "--out", dir.to_str().unwrap()]);
    let mut generated: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    generated.sort();
    assert!(generated.contains(&"whale.1".to_string()));
    assert!(generated.contains(&"whale-keys-create.1".to_string()));
    for name in &generated {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        check_file(&repo().join("man").join(name), &text);
    }
    if std::env::var_os("UPDATE_GENERATED").is_none() {
        let mut committed: Vec<_> = std::fs::read_dir(repo().join("man"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        committed.sort();
        assert_eq!(committed, generated, "man/ holds pages no command generates");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tool_catalog_is_fresh() {
    check_file(&repo().join("docs").join("tools.md"), &whale(&["tools", "docs"]));
}

#[test]
fn tool_schemas_are_stable() {
    let list: serde_json::Value = serde_json::from_str(&whale(&["tools", "list", "--json"])).unwrap();
    for tool in list["tools"].as_array().unwrap() {
        let name = tool["name"].as_str().unwrap();
        let grouped: serde_json::Value = serde_json::from_str(&whale(&["tools", "schema", name])).unwrap();
        insta::assert_json_snapshot!(format!("schema_{name}"), grouped);
        for action in tool["actions"].as_array().unwrap() {
            let action = action["name"].as_str().unwrap();
            let flat: serde_json::Value =
                serde_json::from_str(&whale(&["tools", "schema", name, "--action", action])).unwrap();
            insta::assert_json_snapshot!(format!("schema_{name}_{action}"), flat);
        }
    }
}

#[test]
fn help_texts_are_stable() {
    for args in [
        vec!["--help"],
        vec!["mcp", "--help"],
        vec!["keys", "--help"],
        vec!["keys", "create", "--help"],
        vec!["keys", "rotate", "--help"],
        vec!["tools", "--help"],
        vec!["tools", "test", "--help"],
        vec!["executions", "list", "--help"],
        vec!["stores", "--help"],
        vec!["install", "--help"],
        vec!["login", "--help"],
        vec!["logout", "--help"],
        vec!["auth", "status", "--help"],
    ] {
        let name = format!("help_{}", args.join("_").replace("--", ""));
        let mut full = args.clone();
        full.retain(|a| *a != "--help");
        full.push("--help");
        insta::assert_snapshot!(name.trim_end_matches('_').to_string(), whale(&full));
    }
}
