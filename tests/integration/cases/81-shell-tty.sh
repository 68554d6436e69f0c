# The interactive shell on a terminal, driven through tmux (send-keys,
# capture-pane): the prompt, tab completion of a command, an image name and
# a snapshot name, help, a refused write, Ctrl-C at the prompt and during a
# long command, history kept across two sessions, Ctrl-D and exit.
setup() {
    qemu-img create -q -f qcow2 q.qcow2 4M
    qemu-io -c 'write -P 0x11 0 64k' q.qcow2 >/dev/null
    qemu-img snapshot -c snap1 q.qcow2
}

if ! command -v tmux >/dev/null 2>&1; then
    echo "SKIP $CASE: tmux is not installed (make deps installs it)" >>"$RESULTS"
    return 0 2>/dev/null || exit 0
fi

# tty_start CMD...: run CMD in a detached tmux session on a private server,
# with HOME in the fixture copy (the history file goes there)
tty_start() {
    mkdir -p home
    TMUX_SOCK=imgsh-test-$$-$RANDOM
    tmux -L "$TMUX_SOCK" -f /dev/null new-session -d -x 160 -y 50 \
        "HOME='$PWD/home' $*; echo EXITED \$?; sleep 60"
}
tty_keys() { tmux -L "$TMUX_SOCK" send-keys -t 0 "$@"; }
tty_screen() { tmux -L "$TMUX_SOCK" capture-pane -p -t 0 -S -200; }
tty_stop() { tmux -L "$TMUX_SOCK" kill-server 2>/dev/null; }
# tty_wait ERE [N]: wait up to 20 s for N (default 1) screen lines to match
tty_wait() {
    local i=0
    while [ $i -lt 200 ]; do
        [ "$(tty_screen | grep -Ec -- "$1")" -ge "${2:-1}" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    echo "the screen never matched /$1/ (${2:-1} times):"
    tty_screen | sed '/^$/d'
    return 1
}

t_prompt_and_completion() {
    tty_start "$IMGSH" q.qcow2
    tty_wait '^imgsh q\.qcow2>$' &&
    tty_keys 'ima' Tab && tty_wait '^imgsh q\.qcow2> images$' &&
    tty_keys Enter && tty_wait '^\* q\.qcow2 +qcow2 +4 MiB ro$' &&
    tty_keys 'use q.q' Tab && tty_wait '^imgsh q\.qcow2> use q\.qcow2$' &&
    tty_keys Enter 'snapshot -a sn' Tab && tty_wait 'snapshot -a snap1$' &&
    tty_keys C-u 'check --ou' Tab && tty_wait 'check --output=$' &&
    tty_keys C-u 'open -' Tab Tab && tty_wait '^(-[frUw] +){3}-[frUw]$' &&
    tty_keys C-u 'help' Enter && tty_wait '^Session commands:' &&
    tty_keys 'exit' Enter && tty_wait '^EXITED 0$'
    local rc=$?
    tty_stop
    return $rc
}

# the inspection and edit commands complete their arguments
t_inspect_completion() {
    tty_start "$IMGSH" q.qcow2
    tty_wait '^imgsh q\.qcow2>$' &&
    tty_keys 'set header cluster_b' Tab && tty_wait 'set header cluster_bits$' &&
    tty_keys C-u 'feature set lazy' Tab && tty_wait 'feature set lazy_refcounts$' &&
    tty_keys C-u 'repair pl' Tab && tty_wait 'repair plan$' &&
    tty_keys C-u 'snapshot show sn' Tab && tty_wait 'snapshot show snap1$' &&
    tty_keys C-u 'l1 --snap' Tab && tty_wait 'l1 --snapshot$' &&
    tty_keys C-u 'exit' Enter && tty_wait '^EXITED 0$'
    local rc=$?
    tty_stop
    return $rc
}

t_refused_write() {
    local sum
    sum=$(md5sum <q.qcow2)
    tty_start "$IMGSH" q.qcow2
    tty_wait '^imgsh q\.qcow2>$' &&
    tty_keys 'snapshot -c s2' Enter &&
    tty_wait "'q\.qcow2' is open read-only in this session; run 'reopen -w q\.qcow2' to allow writes" &&
    tty_keys 'write -P 1 0 512' Enter && tty_wait 'open read-only in this session' 2 &&
    tty_keys 'reopen -w' Enter && tty_wait '^imgsh q\.qcow2\(rw\)>$' &&
    tty_keys C-d && tty_wait '^EXITED 1$'
    local rc=$?
    tty_stop
    [ $rc = 0 ] && [ "$(md5sum <q.qcow2)" = "$sum" ]
}

# wait_growing FILE: wait (up to 20 s) until the convert has written some data to FILE
wait_growing() {
    local i=0
    while [ $i -lt 200 ]; do
        [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -gt 1048576 ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    echo "$1 never grew"
    return 1
}

t_ctrl_c() {
    head -c 128M /dev/urandom >data.raw
    tty_start "$IMGSH" q.qcow2
    tty_wait '^imgsh q\.qcow2>$' &&
    tty_keys 'echo never' C-c && tty_keys 'echo alive' Enter && tty_wait '^alive$' &&
    tty_keys 'convert -c -f raw -O qcow2 data.raw out.qcow2' Enter && wait_growing out.qcow2 &&
    tty_keys C-c && tty_wait "^imgsh: 'convert' interrupted$" &&
    tty_keys 'echo status $status' Enter && tty_wait '^status 130$' &&
    tty_keys 'check' Enter && tty_wait '^No errors were found on the image\.$' &&
    tty_keys 'exit 0' Enter && tty_wait '^EXITED 0$' &&
    ! tty_screen | grep -q '^never$'
    local rc=$?
    tty_stop
    return $rc
}

t_history() {
    tty_start "$IMGSH" q.qcow2
    tty_wait '^imgsh q\.qcow2>$' && tty_keys 'echo from-the-first-session' Enter &&
    tty_wait '^from-the-first-session$' && tty_keys C-d && tty_wait '^EXITED 0$' || { tty_stop; return 1; }
    tty_stop
    grep -q 'from-the-first-session' home/.imgsh_history || { echo "no history file"; return 1; }
    tty_start "$IMGSH" q.qcow2
    tty_wait '^imgsh q\.qcow2>$' && tty_keys Up &&
    tty_wait '^imgsh q\.qcow2> echo from-the-first-session$' &&
    tty_keys Enter && tty_wait '^from-the-first-session$' && tty_keys 'exit' Enter &&
    tty_wait '^EXITED 0$'
    local rc=$?
    tty_stop
    return $rc
}

check "tty: prompt, tab completion (command, image, snapshot, options), help, exit" t_prompt_and_completion
check "tty: the inspection and edit commands complete their arguments" t_inspect_completion
check "tty: a refused write names reopen -w; nothing written; (rw) prompt" t_refused_write
check "tty: Ctrl-C clears the line, stops a long convert (status 130), the shell goes on" t_ctrl_c
check "tty: history kept across two sessions" t_history
