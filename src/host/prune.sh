# prune_worktrees MIRROR: forgets the worktrees of a host's mirror whose folder is gone, as
# `git worktree prune` would, but keeps every worktree whose folder is there. git also prunes a
# worktree whose `.git` link is gone, as when its agent deleted it while it still works there
# (and another run's worktrees are made, or another fork is removed, in the same mirror), and
# an agent can delete it again between a repair and git's prune: so no `git worktree prune`.
# The link goes back, as the fork's commit puts it back (commit.sh), for git's `worktree remove`.
prune_worktrees() {
  for a in "$1"/worktrees/*; do
    [ -f "$a/gitdir" ] && [ ! -e "$a/locked" ] || continue
    g=
    IFS= read -r g < "$a/gitdir" || true
    case $g in /*) ;; ?*) g=$a/$g ;; esac # worktree.useRelativePaths: relative to $a
    case $g in /*/.git) ;; *) continue ;; esac
    if [ ! -e "${g%/.git}" ] && [ ! -L "${g%/.git}" ]; then
      rm -rf "$a" || return 1
    elif [ -d "${g%/.git}" ] && [ ! -e "$g" ] && [ ! -L "$g" ]; then
      printf 'gitdir: %s\n' "$a" > "$g" || true
    fi
  done
  rmdir "$1/worktrees" 2>/dev/null || true
}
