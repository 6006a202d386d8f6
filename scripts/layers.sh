#!/usr/bin/env bash
# The layering check: an import may only point down the layers (README, "Layout"). Prints every
# `crate::<module>` reference from a lower layer to a higher one and exits 1 if there is any.
# Modules of one layer may use each other. Comment lines are not imports and are skipped.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# Bottom to top; modules on one line share a layer.
layers=(
  "limits gocompat"
  "template"
  "decoder"
  "ui logging"
  "aws"
  "ledger"
  "engine"
  "communicator"
  "shell_local"
  "builders provisioners"
  "artifact"
  "post_processors"
  "plan"
  "pipeline"
  "platform"
  "cli"
  "fuzzing"
)

# Pairs "from to" refused although `to` is not higher: plugin families do not reach into each
# other (what they share lives below them: the build data and shell-local in shell_local).
never=(
  "builders provisioners"
  "provisioners builders"
  "post_processors provisioners"
  "post_processors builders"
)

declare -A level
for i in "${!layers[@]}"; do
  for m in ${layers[$i]}; do
    level[$m]=$i
  done
done

bad=0
while IFS= read -r file; do
  rel="${file#src/}"
  top="${rel%%/*}"
  top="${top%.rs}"
  [ -n "${level[$top]+x}" ] || continue
  own=${level[$top]}
  # file:line:text of every non-comment line that names a crate module.
  while IFS= read -r hit; do
    line="${hit#*:}"
    text="${line#*:}"
    case "${text#"${text%%[![:space:]]*}"}" in
      //*) continue ;;
    esac
    while IFS= read -r target; do
      [ -n "${level[$target]+x}" ] || continue
      if [ "${level[$target]}" -gt "$own" ]; then
        echo "layers: $file:${line%%:*}: $top imports $target, a higher layer" >&2
        bad=1
      fi
      for pair in "${never[@]}"; do
        if [ "$pair" = "$top $target" ]; then
          echo "layers: $file:${line%%:*}: $top imports $target, a sibling plugin family" >&2
          bad=1
        fi
      done
    done < <(grep -oE 'crate::[a-z_]+' <<<"$text" | sed 's/^crate:://' | sort -u)
  done < <(grep -nE 'crate::[a-z_]+' "$file" | sed "s|^|$file:|" || true)
done < <(find src -name '*.rs' | sort)

exit $bad
