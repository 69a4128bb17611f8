# bash completion for isomount and isotool (installed by scripts/setup.sh as
# bash-completion/completions/isomount and .../isotool; or: source completion/isomount.bash).
# Needs nothing from the bash-completion package, so it also works sourced by hand.
# Keep in sync with `isomount --help`, `isotool --help` and `isotool mkisofs -help`: test/cli/completion.test.ts checks.

_isomount_mount_options='namespace= norock noudf nojoliet nohfsplus nonempty appledouble applexattr uid= gid= mode= dmode= overriderockperms userwrite check= session= hide showassoc ro commit= allow_other'
_isomount_namespaces='rockridge udf joliet iso9660'

_isotool_commands='info ls cat extract verify mkisofs shell help'
_isotool_image_options='-n --namespace --no-rock --no-udf --no-joliet --strict --session -h --help'
_isotool_mkisofs_options='-R -rock -r -rational-rock -rrip110 -rrip112 -J -joliet -joliet-long -jcharset -ucs-level -udf -udf-rev --udf-rev -udf-metadata --udf-metadata
 -iso-level -l -full-iso9660-filenames -max-iso9660-filenames -d -omit-period -N -omit-version-number -allow-lowercase
 -relaxed-filenames -allow-leading-dots -ldots -L -allow-multidot -no-iso-translate -U -untranslated-filenames -D
 -disable-deep-relocation -hide-rr-moved -XA -xa -o -output -V -volid -sysid -A -appid -p -preparer -P -publisher
 -volset -volset-size -volset-seqno -copyright -abstract -biblio --modification-date -b -eltorito-boot -e -efi-boot
 --efi-boot -c -eltorito-catalog -no-emul-boot -hard-disk-boot -no-boot -boot-load-size -boot-load-seg -boot-info-table
 -eltorito-alt-boot -eltorito-platform -isohybrid-mbr -isohybrid-gpt-basdat -isohybrid-apm-hfsplus --grub2-mbr
 --grub2-boot-info --protective-msdos-label --mbr-force-bootable -append_partition -appended_part_as_gpt
 -iso_mbr_part_type -partition_offset -partition_cyl_align -hide -hide-list -hide-joliet
 -hide-joliet-list -hidden -hidden-list -m -exclude -x -old-exclude -exclude-list -nobak -no-bak -f -follow-links
 -no-cache-inodes -graft-points -root -path-list -uid -gid -file-mode -dir-mode -new-dir-mode -T -translation-table
 -table-name -hide-joliet-trans-tbl -input-charset -output-charset -quiet -v -verbose -print-size -pad -no-pad
 -split-output -log-file -s -sectype -help -version'

# The word being completed as the shell splits words (bash splits COMP_WORDS at "=" and ":" too), the
# part of it before what bash replaces, and the word before it.
_isomount_words () {
  local line=${COMP_LINE:0:COMP_POINT}
  _isomount_word=${line##*[[:space:]]}
  local part=${COMP_WORDS[COMP_CWORD]}
  [[ $_isomount_word == *"$part" ]] || part=''
  _isomount_prefix=${_isomount_word%"$part"}
  local before=${line%"$_isomount_word"}
  # The whole words before it (split at blanks only, unlike COMP_WORDS).
  read -r -a _isomount_before <<< "$before"
  _isomount_prev=${_isomount_before[${#_isomount_before[@]} - 1]}
}

# COMPREPLY from whole-word candidates, relative to what bash replaces.
_isomount_reply () {
  local candidate
  COMPREPLY=()
  for candidate in "$@"; do
    [[ $candidate == "$_isomount_word"* ]] && COMPREPLY+=("${candidate#"$_isomount_prefix"}")
  done
}

_isomount_files () {
  local IFS=$'\n'
  compopt -o filenames 2>/dev/null
  COMPREPLY=($(compgen -f -- "$1"))
}

_isomount_directories () {
  local IFS=$'\n'
  compopt -o filenames 2>/dev/null
  COMPREPLY=($(compgen -d -- "$1"))
}

# Image files (.iso, .img) and directories to look in.
_isomount_images () {
  local IFS=$'\n'
  compopt -o filenames 2>/dev/null
  COMPREPLY=($(compgen -d -- "$1") $(compgen -f -X '!*.[iI][sS][oO]' -- "$1") $(compgen -f -X '!*.[iI][mM][gG]' -- "$1"))
}

# -o: a comma-separated list; the item after the last comma is completed, values for those that take one.
_isomount_complete_options () {
  local head=${_isomount_word%,*} item=${_isomount_word##*,} key values candidates=()
  [[ $_isomount_word == *,* ]] && head="$head," || head=''
  if [[ $item == *=* ]]; then
    key=${item%%=*}
    case $key in
      namespace) values=$_isomount_namespaces ;;
      check) values='relaxed strict' ;;
      commit) values='auto inplace append remaster never' ;;
      *) values='' ;;
    esac
    for v in $values; do candidates+=("$head$key=$v"); done
  else
    for v in $_isomount_mount_options; do candidates+=("$head$v"); done
  fi
  _isomount_reply "${candidates[@]}"
  [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
}

_isomount () {
  _isomount_words
  local cur=$_isomount_word
  case $_isomount_prev in
    -o|--options) _isomount_complete_options; return ;;
    -u|--unmount) _isomount_directories "$cur"; return ;;
  esac
  if [[ $cur == -* ]]; then
    _isomount_reply -o --options -f --foreground -u --unmount -V --version -h --help
    return
  fi
  # Arguments so far, options and their values left out: the image (or "sync"), then the mount point.
  local i n=0
  for ((i = 1; i < ${#_isomount_before[@]}; i++)); do
    case ${_isomount_before[i]} in
      -o|--options|-u|--unmount) ((i++)) ;;
      -*) ;;
      *) ((n++)) ;;
    esac
  done
  if ((n == 0)); then
    _isomount_images "$cur"
    [[ sync == "$cur"* ]] && COMPREPLY+=(sync)
  else
    _isomount_directories "$cur"
  fi
}

_isotool () {
  _isomount_words
  local cur=$_isomount_word command='' i
  for ((i = 1; i < ${#_isomount_before[@]}; i++)); do
    case ${_isomount_before[i]} in -*) ;; *) command=${_isomount_before[i]}; break ;; esac
  done
  if [[ -z $command ]]; then
    if [[ $cur == -* ]]; then _isomount_reply -V --version -h --help; else _isomount_reply $_isotool_commands; fi
    return
  fi
  case $command in
    mkisofs)
      case $_isomount_prev in
        -o|-output|-path-list|-exclude-list|-hide-list|-hidden-list|-hide-joliet-list|-isohybrid-mbr|--grub2-mbr|-log-file|-sort) _isomount_files "$cur"; return ;;
        -eltorito-platform) _isomount_reply x86 PPC Mac efi; return ;;
        -iso-level) _isomount_reply 1 2 3 4; return ;;
        -ucs-level) _isomount_reply 1 2 3; return ;;
        -udf-rev|--udf-rev) _isomount_reply 1.02 1.50 2.00 2.01 2.50 2.60; return ;;
        -input-charset|-output-charset|-jcharset) _isomount_reply UTF-8; return ;;
      esac
      if [[ $cur == -* ]]; then _isomount_reply $_isotool_mkisofs_options; else _isomount_files "$cur"; fi
      return ;;
    help) _isomount_reply $_isotool_commands; return ;;
  esac
  case $_isomount_prev in
    -n|--namespace) _isomount_reply $_isomount_namespaces; return ;;
    -C|--directory) _isomount_directories "$cur"; return ;;
    --session) return ;;
  esac
  if [[ $cur == -* ]]; then
    case $command in
      info|verify) _isomount_reply --json $_isotool_image_options ;;
      ls) _isomount_reply -R --recursive -l --long $_isotool_image_options ;;
      extract) _isomount_reply -C --directory $_isotool_image_options ;;
      *) _isomount_reply $_isotool_image_options ;;
    esac
    return
  fi
  _isomount_images "$cur"
}

complete -F _isomount isomount
complete -F _isotool isotool
