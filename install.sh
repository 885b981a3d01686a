#!/usr/bin/env bash
# Builds whale in release mode and installs the binary, shell completions and
# man pages under PREFIX (default ~/.local), then prints the Claude Desktop
# config entry.
set -euo pipefail
cd "$(dirname "$0")"
PREFIX="${PREFIX:-$HOME/.local}"

cargo build --release --locked
install -d "$PREFIX/bin" "$PREFIX/share/man/man1" \
  "$PREFIX/share/bash-completion/completions" "$PREFIX/share/zsh/site-functions" \
  "$PREFIX/share/fish/vendor_completions.d"
install -m 0755 target/release/whale "$PREFIX/bin/whale"
install -m 0644 man/*.1 "$PREFIX/share/man/man1/"
install -m 0644 completions/whale.bash "$PREFIX/share/bash-completion/completions/whale"
install -m 0644 completions/_whale "$PREFIX/share/zsh/site-functions/_whale"
install -m 0644 completions/whale.fish "$PREFIX/share/fish/vendor_completions.d/whale.fish"

echo "Installed $PREFIX/bin/whale (man pages and completions under $PREFIX/share)."
case ":$PATH:" in *":$PREFIX/bin:"*) ;; *) echo "Add $PREFIX/bin to your PATH." ;; esac
echo
echo "Claude Desktop (claude_desktop_config.json) — or run: whale install claude"
"$PREFIX/bin/whale" install claude --print
