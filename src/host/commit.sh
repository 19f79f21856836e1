# Commits a fork's worktree on a host to its branch, as git::commit_fork does here: every git
# call names the fork's own admin directory (found from the mirror, never from the worktree),
# the branch ends at a commit with the worktree's tree, on top of the agent's own commits
# where they descend from it, and the worktree goes back to the branch. Prints the tip.
# $1 mirror, $2 worktree, $3 branch, $4 the run's start. On stdin: the OpenCode server's
# password on the first line (empty: none to look for), then the message. Before committing,
# the worktree's new and changed regular files (not symlinks, not deleted or unreadable ones,
# as here) are searched for the password (through a pipe from the shell's own printf, never
# argv); when some hold it, nothing is committed and `held` is printed, then those files,
# NUL-separated.
set -e
M=$1 W=$2 B=$3 S=$4
full=refs/heads/$B
admin=
for a in "$M"/worktrees/*; do
  g=
  [ ! -f "$a/gitdir" ] || IFS= read -r g < "$a/gitdir" || true
  if [ "$g" = "$W/.git" ]; then admin=$a; break; fi
done
[ -n "$admin" ] || { echo "$W is not a worktree of $M" >&2; exit 1; }
[ -d "$W/.git" ] || printf 'gitdir: %s\n' "$admin" > "$W/.git"
export GIT_DIR="$admin" GIT_WORK_TREE="$W" GIT_TERMINAL_PROMPT=0 GIT_OPTIONAL_LOCKS=0
unset GIT_INDEX_FILE
cd "$W"
IFS= read -r OCFORK_HIDE || [ -n "$OCFORK_HIDE" ] || true
if [ -n "$OCFORK_HIDE" ]; then
  export OCFORK_HIDE
  list="$admin/ocfork-changed"
  git ls-files -z --modified --others --exclude-standard > "$list"
  status=0
  xargs -0 -r sh -c '
      for f do
        shift
        if [ -f "$f" ] && [ ! -h "$f" ] && [ -r "$f" ]; then set -- "$@" "$f"; fi
      done
      [ $# -gt 0 ] || exit 0
      printf "%s\n" "$OCFORK_HIDE" | grep -lZF -f - -- "$@"
      [ $? -le 1 ]' sh < "$list" > "$list.held" || status=$?
  unset OCFORK_HIDE
  rm -f "$list"
  if [ "$status" -ne 0 ]; then rm -f "$list.held"; exit "$status"; fi
  if [ -s "$list.held" ]; then
    printf 'held\0'
    cat "$list.held"
    rm -f "$list.held"
    exit 0
  fi
  rm -f "$list.held"
fi
head_ref=$(git symbolic-ref --quiet HEAD || true)
head=$(git rev-parse --verify --quiet 'HEAD^{commit}' || true)
tip=$(git rev-parse --verify --quiet "$full^{commit}" || true)
base=${tip:-$S}
if [ "$head_ref" = "$full" ] && [ -n "$head" ]; then
  parent=$head
elif [ -n "$head" ] && git merge-base --is-ancestor "$base" "$head"; then
  parent=$head
else
  parent=$base
fi
git add -A -- .
# Ignored files copied in for the fork (.worktreeinclude, --copy) stay out even when the agent
# changed .gitignore so that git would take them.
if [ -s "$admin/ocfork-copied" ]; then
  git reset -q "$parent" --pathspec-from-file="$admin/ocfork-copied" --pathspec-file-nul
fi
tree=$(git write-tree)
if [ "$tree" = "$(git rev-parse "$parent^{tree}")" ]; then
  new=$parent
else
  if git var GIT_AUTHOR_IDENT >/dev/null 2>&1 && git var GIT_COMMITTER_IDENT >/dev/null 2>&1; then
    new=$(git -c commit.gpgsign=false commit-tree --no-gpg-sign "$tree" -p "$parent" -F -)
  else
    new=$(git -c user.name=ocfork -c user.email=ocfork@localhost -c commit.gpgsign=false \
      commit-tree --no-gpg-sign "$tree" -p "$parent" -F -)
  fi
fi
if [ "$tip" != "$new" ]; then
  git update-ref -m "ocfork: the fork's work" "$full" "$new" "$tip"
fi
[ "$head_ref" = "$full" ] || git symbolic-ref HEAD "$full"
printf '%s\n' "$new"
