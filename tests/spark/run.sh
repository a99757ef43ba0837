#!/usr/bin/env bash
# Spark conformance: installs PySpark from PyPI into a virtual environment of its own (test-only,
# cached under the build folder: build/spark/venv-VERSION) and runs conformance.py.
#
#   tests/spark/run.sh KAPPA_BINARY 3.2|3.5 NAME [conformance.py options...]
#
# 3.2: PySpark 3.2.1 (the lab's) on Python 3.9, with kappa's late_rule spark-3.2;
# 3.5: PySpark 3.5.9 on Python 3.11, with late_rule spark-3.4. Java 17 from the machine.
# Exit 77 (ctest's SKIP_RETURN_CODE) when Python, Java or PyPI is missing, except under CI=true,
# where that is a failure.
set -uo pipefail

kappa=$(readlink -f "$1")
version=$2
name=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
build_dir=$(dirname "$kappa")
cache="$build_dir/spark"
began=$(date +%s.%N)

case "$version" in
  3.2) pyspark=3.2.1; python_minor=3.9;  late_rule=spark-3.2; seed=32 ;;
  3.5) pyspark=3.5.9; python_minor=3.11; late_rule=spark-3.4; seed=35 ;;
  *) echo "run.sh: unknown Spark version $version (3.2 or 3.5)" >&2; exit 2 ;;
esac

skip() {
  if [ "${CI:-}" = "true" ]; then
    echo "spark_conformance: FAILED (CI=true, so this is not skipped): $*" >&2
    exit 1
  fi
  echo "spark_conformance: SKIPPED: $*" >&2
  exit 77
}

find_python() {
  local p
  for p in "$HOME"/.pyenv/versions/"$python_minor".*/bin/python3; do
    [ -x "$p" ] && { echo "$p"; return 0; }
  done
  command -v "python$python_minor" 2>/dev/null && return 0
  return 1
}

python=$(find_python) || skip "no Python $python_minor (pyenv's ~/.pyenv/versions/$python_minor.* or python$python_minor on PATH), which PySpark $pyspark needs"
command -v java >/dev/null 2>&1 || skip "no java on PATH (PySpark needs a JVM; Java 17 is the tested one)"

mkdir -p "$cache"
venv="$cache/venv-$version"
marker="$venv/.kappa-pyspark-$pyspark"
(
  flock 9
  if [ ! -f "$marker" ]; then
    rm -rf "$venv"
    t0=$(date +%s.%N)
    echo "spark_conformance: installing PySpark $pyspark from PyPI into $venv (Python $("$python" -c 'import platform; print(platform.python_version())'))"
    if ! "$python" -m venv "$venv" ||
       ! "$venv/bin/python" -m pip install -q --disable-pip-version-check --cache-dir "$cache/pip-cache" \
           "pyspark==$pyspark"; then
      rm -rf "$venv"
      if ! timeout 60 "$python" -m pip index versions pyspark >/dev/null 2>&1; then
        exit 77
      fi
      echo "spark_conformance: pip install pyspark==$pyspark failed with PyPI reachable" >&2
      exit 1
    fi
    touch "$marker"
    echo "spark_conformance: pip install took $(echo "$(date +%s.%N) - $t0" | bc) s"
  fi
) 9>"$cache/venv-$version.lock"
rc=$?
[ $rc -eq 77 ] && skip "PyPI is unreachable: cannot install pyspark==$pyspark"
[ $rc -ne 0 ] && exit $rc

if [ "$name" = spark_kafka_lab ]; then
  # Spark's own Kafka source and sink on kappa lab's broker (lab_kafka.py).
  PYSPARK_PYTHON="$venv/bin/python" "$venv/bin/python" "$here/lab_kafka.py" --kappa "$kappa" \
    --work "$cache/work-$name" --fixtures "$source_dir/fixtures" "$@"
else
  "$venv/bin/python" "$here/conformance.py" --kappa "$kappa" --scenarios "$source_dir/scenarios" \
    --work "$cache/work-$name" --late-rule "$late_rule" --seed "$seed" "$@"
fi
rc=$?
echo "spark_conformance: $name: wall $(echo "$(date +%s.%N) - $began" | bc) s including the environment, exit $rc"
exit $rc
