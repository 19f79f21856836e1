# Makes forks' worktrees in a host's mirror: $1 the mirror, $2 the run's start, then
# (path, branch) pairs. One line per fork: made, kept (already there), or failed <why>.
# Runs after prune.sh (see mirror.rs). Worktrees are linked by absolute paths whatever the
# host's git config says (commit.sh finds a fork's admin folder by its worktree's path).
umask 077
m=$1
s=$2
shift 2
prune_worktrees "$m" || exit 1
while [ $# -ge 2 ]; do
  p=$1
  b=$2
  shift 2
  if [ -e "$p" ]; then
    echo kept
    continue
  fi
  if git --git-dir="$m" rev-parse --verify --quiet "refs/heads/$b" >/dev/null; then
    err=$(mkdir -p "$(dirname "$p")" 2>&1 && git -c worktree.useRelativePaths=false --git-dir="$m" worktree add -q "$p" "$b" 2>&1)
  else
    err=$(mkdir -p "$(dirname "$p")" 2>&1 && git -c worktree.useRelativePaths=false --git-dir="$m" worktree add -q -b "$b" "$p" "$s" 2>&1)
  fi
  if [ $? -eq 0 ]; then
    echo made
  else
    printf 'failed %s\n' "$(printf '%s' "$err" | tr '\n' ' ')"
  fi
done
