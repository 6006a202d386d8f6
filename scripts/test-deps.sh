#!/usr/bin/env bash
# Installs what rpack's integration tests need on a Debian machine, as root, and prints the versions.
#
#   * Debian packages: the OpenSSH server the tests start as "the instance", the ssh client, sudo,
#     the build dependencies of the ssh2/openssl crates, python3-venv, the tools tests/it/scripts.rs runs
#     (shellcheck, unzip, nodejs, curl, xz-utils: a test fails rather than skip without them), and
#     puppet (the puppet-masterless provisioner tests run `puppet apply`);
#   * the login user `ec2-user` with passwordless sudo, as on Amazon Linux images;
#   * the user `rpack-password` with a random password (for the password-login tests);
#   * the Python venv `target/test-venv` (or $CARGO_TARGET_DIR/test-venv) with the pinned moto[server],
#     boto3 and awsebcli from tests/support-py/requirements.txt;
#   * the Python venv `target/salt-venv` with salt from tests/support-py/salt-requirements.txt.
#
# Idempotent and quick when everything is in place: apt is only consulted for a missing package and
# pip only runs when requirements.txt changed since the venv was made.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
case "$target_dir" in /*) ;; *) target_dir="$repo/$target_dir" ;; esac
venv="$target_dir/test-venv"
requirements="$repo/tests/support-py/requirements.txt"
test_user=ec2-user

say() { echo "test-deps: $*"; }
die() { echo "test-deps: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (installs packages, creates user $test_user, the tests start sshd)"
[ -f "$requirements" ] || die "$requirements not found: run this script from the repository's scripts/"

# ---- Debian packages --------------------------------------------------------------------------
# packer (Debian's 1.6.6) is the peer the fidelity and conformance tests compare rpack with;
# puppet runs the puppet-masterless provisioner's tests for real; git fetches the salt test's formula.
packages=(openssh-server openssh-client sudo libssl-dev pkg-config python3 python3-venv ca-certificates shellcheck unzip nodejs curl xz-utils packer puppet git)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# sshd's privilege-separation directory lives on a tmpfs; the tests create it too
mkdir -p /run/sshd && chmod 0755 /run/sshd

# ---- the login user, as on EC2 images -------------------------------------------------------------
if ! id "$test_user" >/dev/null 2>&1; then
  useradd --create-home --home-dir "/home/$test_user" --shell /bin/bash "$test_user"
  say "created user $test_user"
fi
# A fresh account's password field is '!' (locked); sshd without PAM refuses locked accounts even
# for public-key logins. '*' means "no password works" without the lock.
case "$(getent shadow "$test_user" | cut -d: -f2)" in
  '*') ;;
  *) usermod -p '*' "$test_user" ;;
esac
sudoers="/etc/sudoers.d/90-rpack-tests-$test_user"
want="$test_user ALL=(ALL) NOPASSWD:ALL"
if [ "$(cat "$sudoers" 2>/dev/null)" != "$want" ]; then
  tmp="$(mktemp)"
  echo "$want" > "$tmp"
  visudo -cqf "$tmp" || die "sudoers line for $test_user does not validate"
  install -m 0440 -o root -g root "$tmp" "$sudoers"
  rm -f "$tmp"
  say "wrote $sudoers"
fi

# ---- a password login for the ssh_password / keyboard-interactive tests ------------------------
# Only the tests' own sshd lets this user in (AllowUsers). The password is random per machine and
# readable by root only, so the account is no open door through a system sshd that allows
# password logins. tests/it/support/sshd.rs reads it from $pw_file.
pw_user=rpack-password
pw_file=/var/lib/rpack-tests/$pw_user.password
set_pw=
if ! id "$pw_user" >/dev/null 2>&1; then
  useradd --create-home --home-dir "/home/$pw_user" --shell /bin/bash "$pw_user"
  say "created user $pw_user"
  set_pw=1
fi
if [ ! -s "$pw_file" ]; then
  install -d -m 0700 -o root -g root "$(dirname "$pw_file")"
  (umask 077 && head -c 18 /dev/urandom | base64 > "$pw_file")
  set_pw=1
fi
case "$(getent shadow "$pw_user" | cut -d: -f2)" in
  '$'*) ;;
  *) set_pw=1 ;;
esac
if [ -n "$set_pw" ]; then
  echo "$pw_user:$(cat "$pw_file")" | chpasswd
  say "set the password of $pw_user (kept in $pw_file)"
fi

# ---- Python venv with moto ------------------------------------------------------------------------
# Debian's interpreter, not whatever python3 comes first on PATH (pyenv shims, conda...).
python=/usr/bin/python3
stamp="$venv/.rpack-requirements.sha256"
want_stamp="$( { sha256sum < "$requirements"; "$python" --version; } | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/moto_server" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want_stamp" ]; then
  say "creating $venv (moto, boto3, awsebcli, ansible-core); this takes about a minute"
  rm -rf "$venv"
  mkdir -p "$target_dir"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements" \
    || die "pip could not install $requirements into $venv"
  echo "$want_stamp" > "$stamp"
fi

# ---- Salt, in its own venv (its pins must not meet moto's) -----------------------------------------
salt_venv="$target_dir/salt-venv"
salt_requirements="$repo/tests/support-py/salt-requirements.txt"
salt_stamp="$salt_venv/.rpack-requirements.sha256"
salt_want="$( { sha256sum < "$salt_requirements"; "$python" --version; } | sha256sum | cut -d' ' -f1)"
if [ ! -x "$salt_venv/bin/salt-call" ] || [ "$(cat "$salt_stamp" 2>/dev/null)" != "$salt_want" ]; then
  say "creating $salt_venv (salt)"
  rm -rf "$salt_venv"
  "$python" -m venv "$salt_venv"
  "$salt_venv/bin/pip" install -q --disable-pip-version-check -r "$salt_requirements" \
    || die "pip could not install $salt_requirements into $salt_venv"
  echo "$salt_want" > "$salt_stamp"
fi

# ---- versions -------------------------------------------------------------------------------------
pyver() { "$venv/bin/python" -c "import importlib.metadata as m; print(m.version('$1'))"; }
say "openssh:  $(dpkg-query -W -f='${Version}' openssh-server)"
say "sudo:     $(sudo -V | head -n1)"
say "python:   $("$venv/bin/python" --version 2>&1) ($venv)"
say "moto:     $(pyver moto)"
say "boto3:    $(pyver boto3)"
say "awsebcli: $(pyver awsebcli)"
packer_version="$(packer version 2>/dev/null | head -n1)"
case "$packer_version" in
  "Packer v1.6.6"*) say "packer:   $packer_version" ;;
  *) die "the peer packer must be 1.6.6 (Debian bookworm's), found: ${packer_version:-none}" ;;
esac
say "ansible:  $(pyver ansible-core)"
say "puppet:   $(puppet --version 2>/dev/null || echo missing)"
say "salt:     $("$salt_venv/bin/salt-call" --version 2>/dev/null || echo missing)"
