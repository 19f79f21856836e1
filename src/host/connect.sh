# Run on a host once its connection is open: where ocfork keeps things there and, with $3 =
# report, what the host has. $1 the [[host]] `dir`, $2 its `opencode` (`~/` is the host's
# home). Prints `dir=` and `bin=`, resolved, then `git=`, `free=` and `opencode=`.
# `opencode --version` costs most of a CPU-second (OpenCode boots its runtime); its answer is
# kept in $dir/host-opencode-versions while the binary is the same compiled file, as ocfork keeps
# it here (opencode::version_cache): a compiled (ELF) file named opencode..., identified by
# device, inode, size and modification and change times before it is asked and checked after;
# a script or a shim is asked every time. That file is all this writes (making $dir private
# to the host's user when there is none).
home=${HOME%/}
at() {
  case $1 in
    '~/'*) printf '%s/%s' "$home" "${1#'~/'}" ;;
    *) printf '%s' "$1" ;;
  esac
}
dir=$(at "$1")
bin=$(at "$2")
printf 'dir=%s\nbin=%s\n' "$dir" "$bin"
[ "$3" = report ] || exit 0
printf 'git=%s\n' "$(git --version 2>/dev/null)"
d=$dir
while [ ! -d "$d" ]; do d=$(dirname "$d"); done
printf 'free=%s\n' "$(df -Pk "$d" | awk 'NR==2 {print $4}')"
if [ -x "$bin" ]; then
  path=$bin
else
  path=$(command -v "$bin" 2>/dev/null) || exit 0
fi
# What identifies the compiled file `path` resolves to; nothing for anything else.
p=$(readlink -f "$path" 2>/dev/null) || p=
id() {
  [ -n "$p" ] || return 0
  case ${p##*/} in opencode*) ;; *) return 0 ;; esac
  [ "$(head -c 4 "$p" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] || return 0
  s=$(stat -L -c '%d %i %s %y %z' "$p" 2>/dev/null) || return 0
  printf '%s %s' "$s" "$p"
}
key=$(id)
cache=$dir/host-opencode-versions
v=
if [ -n "$key" ] && [ -f "$cache" ]; then
  while IFS= read -r line; do
    if [ "${line#* }" = "$key" ]; then
      v=${line%% *}
      break
    fi
  done < "$cache"
fi
if [ -z "$v" ]; then
  v=$(OPENCODE_DISABLE_AUTOUPDATE=1 "$path" --version 2>/dev/null | head -n 1)
  case $v in
    '' | *[!0-9A-Za-z.+-]*) ;;
    *)
      if [ -n "$key" ] && [ "$(id)" = "$key" ] && (umask 077 && mkdir -p "$dir") 2>/dev/null; then
        ( umask 077
          { grep -vF " $p" "$cache"
            printf '%s %s\n' "$v" "$key"; } > "$cache.$$" && mv -f "$cache.$$" "$cache"
        ) 2>/dev/null || rm -f "$cache.$$"
      fi
      ;;
  esac
fi
printf 'opencode=%s\n' "$v"
