#!/usr/bin/env bash
# Ansible provisioning benchmark: the same 20-task playbook (directories, copies, lineinfile,
# templates, a command, facts) against one loopback sshd (login user ec2-user, as the tests use),
# run BENCH_RUNS times each, interleaved:
#   direct   ansible-playbook run by hand against the sshd (Ansible's own cost: the floor)
#   rpack    `rpack build` of a null-builder template with the ansible provisioner
#   proxy    the same with `use_proxy: true` (rpack's SSH proxy relaying over its connection)
#   local    `rpack build` with ansible-local (Ansible installed for the login user)
#   packer   Packer 1.6.6's ansible provisioner (proxy adapter), when `packer` is 1.6.6; it needs
#            HostKeyAlgorithms=+ssh-rsa against a current OpenSSH client (its adapter offers
#            only an ssh-rsa host key), which is added for it here
# and prints the median wall time of each, and rpack's ratios against direct and Packer.
# Needs root (starts sshd) and scripts/test-deps.sh (ec2-user, the venv's ansible-core).
# Usage: scripts/bench-ansible.sh        (env: BENCH_RUNS=5, RPACK=path/to/rpack)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${BENCH_RUNS:-5}"
venv="${CARGO_TARGET_DIR:-$repo/target}/test-venv"
rpack="${RPACK:-$repo/target/release/rpack}"
[ -x "$rpack" ] || rpack="$repo/target/debug/rpack"
[ -x "$rpack" ] || { echo "build rpack first (cargo build --release)" >&2; exit 1; }
[ -x "$venv/bin/ansible-playbook" ] || { echo "run scripts/test-deps.sh first" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "must run as root (starts sshd)" >&2; exit 1; }
export PATH="$venv/bin:$PATH"

work="$(mktemp -d /tmp/rpack-bench-ansible.XXXXXX)"
chmod 0755 "$work"
sshd_pid=
cleanup() {
  [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null || true
  cp "$work/sshd.log" /tmp/cm-bench-sshd.log 2>/dev/null || true
  rm -rf "$work"
  su ec2-user -s /bin/sh -c 'rm -rf /tmp/rpack-bench-out' 2>/dev/null || true
}
trap cleanup EXIT

# ---- the instance: a dedicated sshd on a free loopback port ------------------------------------
ssh-keygen -q -t ed25519 -N '' -f "$work/host_ed25519"
ssh-keygen -q -t rsa -b 2048 -N '' -f "$work/host_rsa"
ssh-keygen -q -t ed25519 -N '' -C bench -f "$work/id_ed25519"
install -m 0644 "$work/id_ed25519.pub" "$work/authorized_keys"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat > "$work/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $work/host_ed25519
HostKey $work/host_rsa
AuthorizedKeysFile $work/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowUsers ec2-user
PidFile $work/sshd.pid
Subsystem sftp internal-sftp
EOF
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
sshd_pid=$!
for _ in $(seq 50); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

# ---- the playbook: 20 tasks ---------------------------------------------------------------------
out=/tmp/rpack-bench-out
cat > "$work/motd.j2" <<'EOF'
host {{ ansible_hostname }} built by {{ packer_build_name | default('hand') }}
EOF
cat > "$work/site.yml" <<EOF
- hosts: all
  gather_facts: true
  vars: { out: "$out" }
  tasks:
    - file: { path: "{{ out }}", state: directory, mode: "0755" }
    - file: { path: "{{ out }}/etc", state: directory }
    - file: { path: "{{ out }}/lib", state: directory }
    - file: { path: "{{ out }}/log", state: directory }
    - copy: { dest: "{{ out }}/etc/a.conf", content: "a=1\n" }
    - copy: { dest: "{{ out }}/etc/b.conf", content: "b=2\n" }
    - copy: { dest: "{{ out }}/etc/c.conf", content: "c=3\n" }
    - copy: { src: "$work/motd.j2", dest: "{{ out }}/motd.raw" }
    - lineinfile: { path: "{{ out }}/etc/a.conf", line: "x=1" }
    - lineinfile: { path: "{{ out }}/etc/b.conf", regexp: "^b=", line: "b=3" }
    - lineinfile: { path: "{{ out }}/etc/c.conf", line: "# managed", insertbefore: BOF }
    - template: { src: "$work/motd.j2", dest: "{{ out }}/motd" }
    - template: { src: "$work/motd.j2", dest: "{{ out }}/etc/motd2" }
    - command: uname -a
      register: uname
    - set_fact: { kernel: "{{ uname.stdout }}" }
    - copy: { dest: "{{ out }}/kernel", content: "{{ kernel }}\n" }
    - stat: { path: "{{ out }}/motd" }
      register: st
    - assert: { that: [st.stat.exists] }
    - file: { path: "{{ out }}/log/build.log", state: touch }
    - debug: { msg: "{{ ansible_distribution }} {{ ansible_python_version }}" }
EOF
chmod a+r "$work/site.yml" "$work/motd.j2"

cat > "$work/inventory" <<EOF
default ansible_host=127.0.0.1 ansible_port=$port ansible_user=ec2-user
EOF
null_builder="{\"type\": \"null\", \"ssh_host\": \"127.0.0.1\", \"ssh_port\": $port, \"ssh_username\": \"ec2-user\", \"ssh_private_key_file\": \"$work/id_ed25519\"}"
cat > "$work/rpack.json" <<EOF
{"builders": [$null_builder],
 "provisioners": [{"type": "ansible", "playbook_file": "$work/site.yml"}]}
EOF
cat > "$work/proxy.json" <<EOF
{"builders": [$null_builder],
 "provisioners": [{"type": "ansible", "playbook_file": "$work/site.yml", "use_proxy": true}]}
EOF
cat > "$work/local.json" <<EOF
{"builders": [$null_builder],
 "provisioners": [{"type": "ansible-local", "playbook_file": "$work/site.yml",
                   "command": "PYTHONUNBUFFERED=1 $venv/bin/ansible-playbook",
                   "staging_directory": "/tmp/rpack-bench-stage", "clean_staging_directory": true}]}
EOF
cat > "$work/packer.json" <<EOF
{"builders": [$null_builder],
 "provisioners": [{"type": "ansible", "playbook_file": "$work/site.yml", "user": "ec2-user",
                   "ansible_env_vars": ["ANSIBLE_SSH_ARGS=-o HostKeyAlgorithms=+ssh-rsa -o PubkeyAcceptedKeyTypes=+ssh-rsa -o ControlMaster=auto -o ControlPersist=60s"]}]}
EOF

have_packer=
if command -v packer >/dev/null && packer version 2>/dev/null | grep -q 'v1\.6\.6'; then have_packer=1; fi

reset_instance() { su ec2-user -s /bin/sh -c "rm -rf $out" || true; }
time_it() { # name command...
  local start end
  reset_instance
  start=$(date +%s%N)
  if ! "${@:2}" > "$work/$1.log" 2>&1; then
    echo "$1 failed; its output:" >&2; tail -30 "$work/$1.log" >&2
    # Packer's proxy adapter fails now and then ("unexpected EOF"): count it, keep going.
    if [ "$1" = packer ]; then echo "packer-failed 1" >> "$work/times"; return 0; fi
    exit 1
  fi
  end=$(date +%s%N)
  echo "$1 $(( (end - start) / 1000000 ))" >> "$work/times"
}

for i in $(seq "$runs"); do
  time_it direct env ANSIBLE_HOST_KEY_CHECKING=False \
    ansible-playbook -i "$work/inventory" --private-key "$work/id_ed25519" "$work/site.yml"
  time_it rpack "$rpack" build "$work/rpack.json"
  time_it proxy "$rpack" build "$work/proxy.json"
  time_it local "$rpack" build "$work/local.json"
  [ -n "$have_packer" ] && time_it packer env PACKER_CONFIG_DIR="$work" CHECKPOINT_DISABLE=1 packer build "$work/packer.json"
  echo "run $i/$runs done" >&2
done

python3 - "$work/times" "$runs" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {}
for name in ["direct", "rpack", "proxy", "local", "packer"]:
    v = [int(t) / 1000 for n, t in rows if n == name]
    if v:
        med[name] = statistics.median(v)
        print(f"{name:7} median {med[name]:6.2f} s  runs {' '.join(f'{x:.2f}' for x in v)}")
fails = sum(1 for n, _ in rows if n == "packer-failed")
if fails:
    print(f"packer failed {fails} time(s); its median is over the runs that finished")
if "rpack" in med and "direct" in med:
    print(f"rpack ansible / direct ansible-playbook: {med['rpack'] / med['direct']:.2f}x (target <= 1.1x)")
if "rpack" in med and "packer" in med:
    print(f"rpack ansible / Packer 1.6.6 ansible:    {med['rpack'] / med['packer']:.2f}x (target <= 0.6x)")
if "proxy" in med and "packer" in med:
    print(f"rpack proxy / Packer 1.6.6 ansible:      {med['proxy'] / med['packer']:.2f}x")
PY
