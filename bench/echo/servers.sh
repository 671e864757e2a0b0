# bench/echo/servers.sh: sourced by profile.sh and instr.sh. echo_server_cmd
# NAME BUILD sets `cmd` (the server's argv) and `envs` (VAR=value words for
# env) for one of the echo servers bench/echo/run.py names; returns 1 for an
# unknown NAME. echo_server_names lists the names.
echo_server_names="corio-uring corio-uring-plain corio-epoll uring-c uring-c-nofixed uring-c-ms epoll-c asio"

echo_server_cmd() {
    local name=$1 build=$2
    envs=()
    case $name in
        corio-uring) cmd=("$build/examples/echo_server" --backend io_uring) ;;
        corio-uring-plain)
            cmd=("$build/examples/echo_server" --backend io_uring --no-multishot --no-fixed-files) ;;
        corio-epoll) cmd=("$build/examples/echo_server" --backend epoll) ;;
        uring-c) cmd=("$build/bench/peers/peer_uring_echo") ;;
        uring-c-nofixed) cmd=("$build/bench/peers/peer_uring_echo"); envs=(PEER_URING_NO_FIXED_FILES=1) ;;
        uring-c-ms) cmd=("$build/bench/peers/peer_uring_echo"); envs=(PEER_URING_MULTISHOT_RECV=1) ;;
        epoll-c) cmd=("$build/bench/peers/peer_epoll_echo") ;;
        asio) cmd=("$build/bench/peers/peer_asio_echo") ;;
        *) return 1 ;;
    esac
}
