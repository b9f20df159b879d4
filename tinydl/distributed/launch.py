"""`python -m tinydl launch -n N COMMAND...`: run COMMAND on N ranks through MPI.

    python -m tinydl launch -n 2 train --dataset shapes10 --epochs 3     a tinydl subcommand
    python -m tinydl launch -n 4 my_script.py --its --args               a script
    python -m tinydl launch -n 8 --hostfile hosts train ...              several machines

It runs ``mpiexec -n N python -m mpi4py ...``: mpi4py's runner calls MPI_Abort when a rank's
code raises, so one rank's exception ends the whole job (traceback shown) instead of leaving
the others waiting forever in a collective. ``mpiexec`` is the one beside the Python running
this (the venv's bin, where the mpich wheel puts it), else the first on PATH. Each rank gets
max(1, cores // ranks on this machine) Numba, OpenMP and BLAS threads, so that N ranks do not
start N times the machine's threads.

A host file is MPICH's format (one ``host`` or ``host:slots`` per line) or Open MPI's
(``host slots=N``); the same Python environment must exist at the same path on every host.
"""
import argparse
import math
import os
import shutil
import subprocess
import sys

from tinydl._validate import positive_int

THREAD_VARIABLES = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def add_parser(subparsers, commands=()):
    """Register the `launch` subcommand on the CLI's subparsers."""
    p = subparsers.add_parser(
        "launch", help="run a tinydl subcommand or a script on N ranks through MPI",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--ranks", type=int, required=True, help="number of ranks (processes)")
    p.add_argument("--hostfile", default=None, help="machines to run on (MPICH or Open MPI format)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads per rank (default: max(1, cores // ranks per machine))")
    p.add_argument("--mpiexec", default=None, help="the mpiexec to use (default: beside this Python)")
    p.add_argument("--dry-run", action="store_true", help="print the command line and the thread setting, run nothing")
    p.add_argument("to_run", nargs=argparse.REMAINDER, metavar="COMMAND",
                   help=f"a tinydl subcommand ({', '.join(commands) or 'train, demo, ...'}) or a script, with its arguments")
    return p


def find_mpiexec(explicit=None) -> str:
    """``explicit``, else the mpiexec beside sys.executable, else the first on PATH."""
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise FileNotFoundError(f"launch: --mpiexec must be an executable file; received {explicit!r}")
        return explicit
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("mpiexec")
    if found:
        return found
    raise FileNotFoundError(
        f"launch: no mpiexec beside {sys.executable} nor on PATH; install the runtime with "
        "pip install 'tinydl[distributed]' (mpi4py and MPICH's wheel)"
    )


def is_open_mpi(mpiexec) -> bool:
    """True for Open MPI's mpiexec (other flags than MPICH's hydra)."""
    try:
        out = subprocess.run([mpiexec, "--version"], check=False, capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "Open MPI" in out or "OpenRTE" in out


def hosts_in(hostfile) -> int:
    """The number of machines a host file names (blank lines and # comments skipped)."""
    with open(hostfile) as f:
        names = {line.split("#")[0].split()[0].split(":")[0] for line in f if line.split("#")[0].strip()}
    if not names:
        raise ValueError(f"launch: the host file {hostfile} names no host")
    return len(names)


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def threads_per_rank(ranks, hosts=1, explicit=None) -> int:
    if explicit is not None:
        return positive_int(explicit, "threads", owner="launch")
    return max(1, cores() // math.ceil(ranks / hosts))


def python_command(command) -> list:
    """What each rank runs after `python -m mpi4py`: a script, `-m module`, `-c code`, or a
    tinydl subcommand (`train ...` becomes `-m tinydl train ...`)."""
    if not command:
        raise ValueError("launch: give a COMMAND to run, e.g. `launch -n 2 train --dataset shapes10` "
                         "or `launch -n 2 script.py`")
    first = command[0]
    if first in ("-m", "-c") or first.endswith(".py") or os.path.isfile(first):
        return list(command)
    return ["-m", "tinydl", *command]


def build(args):
    """(argv, environment) of the mpiexec call for the parsed ``args``."""
    ranks = positive_int(args.ranks, "ranks", owner="launch")
    mpiexec = find_mpiexec(args.mpiexec)
    hosts = hosts_in(args.hostfile) if args.hostfile else 1
    threads = threads_per_rank(ranks, hosts, args.threads)
    env = dict(os.environ, **{k: str(threads) for k in THREAD_VARIABLES})
    argv = [mpiexec, "-n", str(ranks)]
    if is_open_mpi(mpiexec):
        if args.hostfile:
            argv += ["--hostfile", args.hostfile]
        argv += [f for k in THREAD_VARIABLES for f in ("-x", k)]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            argv.append("--allow-run-as-root")
        argv.append("--oversubscribe")
    else:                                                  # MPICH's hydra passes the environment
        if args.hostfile:
            argv += ["-f", args.hostfile]
    argv += [sys.executable, "-m", "mpi4py", *python_command(args.to_run)]
    return argv, env, threads


def run(args) -> int:
    """Start the job and return its exit status."""
    argv, env, threads = build(args)
    if args.dry_run:
        print(f"threads per rank: {threads} ({', '.join(THREAD_VARIABLES)})")
        print(" ".join(argv))
        return 0
    return subprocess.call(argv, env=env)
