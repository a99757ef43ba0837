#!/usr/bin/env bash
# Starts a real MariaDB server for tests: Debian's mariadb-server (installed with apt-get when
# missing), bound to 127.0.0.1:3306, with the lab's database `default` and user scott/tiger
# (from 127.0.0.1 and localhost; all privileges on `default` and, for the tests, on every
# database named kappa_test%).
# The server runs from its own state dir ${KAPPA_MYSQL_DIR:-build/mysql}: my.cnf (generated),
# data/ (made once with mariadb-install-db, so tables survive a stop/start), error.log,
# mysqld.pid, mysqld.sock. No systemd: `mariadbd` runs in the background in its own session.
# The admin account is the OS user running this script, through the unix socket (no password).
# If 127.0.0.1:3306 is already taken by the Debian system server (a machine where the package
# started its service), that server is provisioned instead of starting a second one.
# Idempotent: a server of this state dir that is already up is left alone; the database, users
# and grants are (re)applied with IF NOT EXISTS. Waits until the server answers, then prints
#   mysql: ready on 127.0.0.1:3306 (MariaDB <version>)
# Env: KAPPA_MYSQL_PORT (default 3306), KAPPA_MYSQL_TIMEOUT (seconds to wait, default 60).
# Stop with scripts/stop-mysql.sh. The password is never printed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"  # mariadbd lives in /usr/sbin, often not on a user's PATH

port="${KAPPA_MYSQL_PORT:-3306}"
timeout_s="${KAPPA_MYSQL_TIMEOUT:-60}"
state="${KAPPA_MYSQL_DIR:-$PWD/build/mysql}"
mkdir -p "$state"
state="$(cd "$state" && pwd)"
data="$state/data" conf="$state/my.cnf" errlog="$state/error.log" pidfile="$state/mysqld.pid"
sock="$state/mysqld.sock"
# A unix socket path must fit in sun_path (108 bytes); a deep state dir puts it in /tmp.
if [ "${#sock}" -gt 100 ]; then
  sock="${TMPDIR:-/tmp}/kappa-mysql-$(printf '%s' "$state" | cksum | cut -d' ' -f1).sock"
fi
system_sock=/run/mysqld/mysqld.sock
app_db=default app_user=scott app_password=tiger

die() { echo "mysql: $*" >&2; exit 1; }

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
me="$(id -un)"

ensure_installed() {
  local missing=() p
  for p in mariadb-server mariadb-client; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "mysql: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
      $sudo apt-get update -qq
      $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
  fi
  for p in mariadbd mariadb mariadb-admin mariadb-install-db; do
    command -v "$p" >/dev/null || die "$p not found after installing mariadb-server and mariadb-client"
  done
}

# pid of the server started from this state dir, or nothing.
server_pid() {
  local pid=""
  [ -f "$pidfile" ] && pid="$(cat "$pidfile" 2>/dev/null || true)"
  if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
     tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--defaults-file=$conf"; then
    echo "$pid"
    return
  fi
  if command -v pgrep >/dev/null; then
    pgrep -f -- "--defaults-file=$conf" | head -n1 || true
  fi
}

# True while $1 runs (a server that died during startup stays a zombie child of this shell).
alive() {
  kill -0 "$1" 2>/dev/null && ! grep -q '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The admin client of a socket: the OS user through unix_socket authentication.
admin() {  # admin SOCKET [client args...]
  local s="$1"
  shift
  mariadb --no-defaults --protocol=socket --socket="$s" -u "$me" "$@"
}

answers() { mariadb-admin --no-defaults --protocol=socket --socket="$sock" -u "$me" \
  --connect-timeout=2 ping >/dev/null 2>&1; }

show_log() {
  [ -s "$errlog" ] || return 0
  echo "---- tail of $errlog" >&2
  tail -n 40 "$errlog" >&2
}

wait_ready() {
  local pid="$1" deadline=$((SECONDS + timeout_s))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! alive "$pid"; then
      show_log
      rm -f "$pidfile"
      die "server (pid $pid) exited during startup"
    fi
    if answers; then
      return 0
    fi
    sleep 0.2
  done
  show_log
  die "server (pid $pid) not ready on 127.0.0.1:$port after ${timeout_s}s (still running; scripts/stop-mysql.sh stops it)"
}

# Creates the lab's database and user, and the grants the tests need. SQL goes through stdin, so
# the password is on no command line.
provision() {  # provision ADMIN-COMMAND...
  local u out
  if ! out="$( {
    echo "CREATE DATABASE IF NOT EXISTS \`$app_db\` CHARACTER SET utf8mb4;"
    for u in "'$app_user'@'127.0.0.1'" "'$app_user'@'localhost'"; do
      echo "CREATE USER IF NOT EXISTS $u IDENTIFIED BY '$app_password';"
      echo "ALTER USER $u IDENTIFIED BY '$app_password';"
      echo "GRANT ALL PRIVILEGES ON \`$app_db\`.* TO $u;"
      echo "GRANT ALL PRIVILEGES ON \`kappa\\_test%\`.* TO $u;"
    done
  } | "$@" 2>&1 >/dev/null)"; then
    printf '%s\n' "$out" | sed -e "s/$app_password/***/g" -e 's/^/mysql: /' >&2
    die "creating database $app_db and user $app_user failed"
  fi
  # The way the tests connect: TCP, user and password (MYSQL_PWD keeps it off the command line).
  if ! MYSQL_PWD="$app_password" mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -P "$port" \
       -u "$app_user" -D "$app_db" -e 'SELECT 1' >/dev/null 2>&1; then
    die "user $app_user cannot connect to 127.0.0.1:$port/$app_db over TCP"
  fi
}

ready_message() {  # ready_message ADMIN-COMMAND...
  local v
  v="$("$@" -N -e 'SELECT VERSION()' 2>/dev/null || true)"
  echo "mysql: ready on 127.0.0.1:$port (MariaDB ${v%%-*})"
}

ensure_installed

# Already running from this state dir?
pid="$(server_pid)"
if [ -n "$pid" ]; then
  echo "$pid" >"$pidfile"
  if ! answers; then
    echo "mysql: server (pid $pid) running but not answering yet; waiting"
    wait_ready "$pid"
  else
    echo "mysql: already running (pid $pid)"
  fi
  provision admin "$sock"
  ready_message admin "$sock"
  exit 0
fi
rm -f "$pidfile"

if port_open "$port"; then
  # Debian's own server, started by the package on a machine with an init system?
  if [ "$port" = 3306 ] && [ -S "$system_sock" ] &&
     $sudo mariadb --no-defaults --protocol=socket --socket="$system_sock" -u root -e 'SELECT 1' >/dev/null 2>&1; then
    echo "mysql: 127.0.0.1:$port is the system server ($system_sock); provisioning it"
    provision $sudo mariadb --no-defaults --protocol=socket --socket="$system_sock" -u root
    ready_message $sudo mariadb --no-defaults --protocol=socket --socket="$system_sock" -u root
    exit 0
  fi
  who=""
  command -v ss >/dev/null && who="$(ss -ltnpH "sport = :$port" 2>/dev/null | head -n1 || true)"
  die "127.0.0.1:$port is already in use by something other than this state dir's server ($state)${who:+: $who}"
fi

# Configuration (rewritten on every start so the port follows KAPPA_MYSQL_PORT).
cat >"$conf" <<EOF
# Generated by scripts/start-mysql.sh: a MariaDB test server, 127.0.0.1 only.
[mysqld]
$( [ "$(id -u)" -eq 0 ] && echo "user=root" )
datadir=$data
socket=$sock
pid-file=$pidfile
log-error=$errlog
port=$port
bind-address=127.0.0.1
skip-name-resolve
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
max_connections=500
EOF

# The data dir, once.
if [ ! -d "$data/mysql" ]; then
  rm -rf "$data"
  mkdir -p "$data"
  echo "mysql: initialising $data"
  if ! mariadb-install-db --defaults-file="$conf" --user="$me" --auth-root-authentication-method=socket \
       --skip-test-db >"$state/install-db.log" 2>&1; then
    tail -n 30 "$state/install-db.log" >&2
    rm -rf "$data"
    die "mariadb-install-db failed (full output in $state/install-db.log)"
  fi
fi

# Start in the background, in its own session so it outlives this shell.
rm -f "$sock"
nohup setsid mariadbd --defaults-file="$conf" </dev/null >>"$errlog" 2>&1 &
pid=$!
echo "$pid" >"$pidfile"
echo "mysql: started pid $pid, waiting up to ${timeout_s}s (log: $errlog)"
wait_ready "$pid"
provision admin "$sock"
ready_message admin "$sock"
