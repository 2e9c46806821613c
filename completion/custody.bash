# bash completion for custody(1). Installed to
# share/bash-completion/completions/custody by `make install`.
_custody_sources()
{
    # source names from the config given with -c (else $CUSTODY_CONFIG,
    # else ./custody.yaml): the "- name:" entries under sources
    local cfg=${CUSTODY_CONFIG:-custody.yaml} i
    for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
        case ${COMP_WORDS[i]} in -c|--config) cfg=${COMP_WORDS[i + 1]} ;; esac
    done
    [[ -r $cfg ]] || return 0
    sed -n 's/^[[:space:]]*-[[:space:]]*name:[[:space:]]*["'\'']\{0,1\}\([A-Za-z0-9_.-]*\).*/\1/p' -- "$cfg"
}

_custody()
{
    local cur prev cmd sub i
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    local commands="check poll run publish records export trace index quarantine audit retention hold status cursor keygen help"
    local common="-c --config --json --actor -q --quiet -h --help"

    case $prev in
        -c|--config|--key|-o|--schema) COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
        --log) COMPREPLY=($(compgen -W "json text" -- "$cur")); return ;;
        --format) COMPREPLY=($(compgen -W "csv jsonl fsma204 dot" -- "$cur")); return ;;
        --for|--reason|--actor|--to|--from|--as-of|--version|--lot|--source) return ;;
    esac

    cmd="" sub=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            -c|--config|--key|-o|--log|--for|--reason|--actor|--to|--from|--as-of|--version|--format|--lot|--source) ((i++)) ;;
            -*) ;;
            *) if [[ -z $cmd ]]; then cmd=${COMP_WORDS[i]}; elif [[ -z $sub ]]; then sub=${COMP_WORDS[i]}; fi ;;
        esac
    done

    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands -h --help -V --version --man" -- "$cur"))
        return
    fi
    local words=""
    case $cmd in
        check) words="--reference" ;;
        poll) words="--once $(_custody_sources)" ;;
        run) words="--for --log" ;;
        publish) words="--once --follow --for --json --log" ;;
        export) [[ -z $sub ]] && words="$(_custody_sources)" || words="--format --history --from --to --lot --scan -o" ;;
        trace) words="--source --json --format --scan" ;;
        index)
            case $sub in
                "") words="rebuild status" ;;
                rebuild) words="$(_custody_sources)" ;;
            esac ;;
        records) [[ -z $sub ]] && words="$(_custody_sources)" || words="--history" ;;
        quarantine)
            case $sub in
                "") words="list show replay resolve" ;;
                list) words="$(_custody_sources)" ;;
                replay) words="--all --dry-run $(_custody_sources)" ;;
                resolve) words="--reason" ;;
            esac ;;
        audit)
            case $sub in
                "") words="verify checkpoint export prove consistency" ;;
                verify) words="--key" ;;
                export) words="-o" ;;
                prove) words="--version $(_custody_sources)" ;;
            esac ;;
        retention) words="--dry-run --apply --as-of $(_custody_sources)" ;;
        hold)
            case $sub in
                "") words="add release list" ;;
                add) words="--reason $(_custody_sources)" ;;
                release) words="--reason" ;;
            esac ;;
        status) words="" ;;
        cursor)
            case $sub in
                "") words="show reset" ;;
                show) words="$(_custody_sources)" ;;
                reset) words="--to --reason $(_custody_sources)" ;;
            esac ;;
        keygen) words="-o" ;;
        help) words="$commands" ;;
    esac
    COMPREPLY=($(compgen -W "$words $common" -- "$cur"))
}
complete -F _custody custody
