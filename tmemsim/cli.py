"""The `tmemsim` command line: parse, call the API, print. Nothing else lives here.

Exit codes: 0 success, 1 a failed run or regression, 2 bad input (one or two lines on stderr
naming the file, YAML path and line; a traceback only with --debug).
"""

from __future__ import annotations

import functools
import shlex
import sys
from contextlib import contextmanager, nullcontext

import click

from . import __version__
from .errors import RunError, ScenarioError, TmemsimError


def _command_line() -> str:
    return " ".join(shlex.quote(a) for a in ["tmemsim"] + sys.argv[1:])


def _fail(message: str, code: int):
    click.echo(f"tmemsim: {message}", err=True)
    sys.exit(code)


def handles_errors(fn):
    """Turn the project's errors into exit codes; --debug shows the traceback instead."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        debug = kwargs.get("debug", False)
        try:
            return fn(*args, **kwargs)
        except TmemsimError as exc:
            if debug:
                raise
            _fail(f"error: {exc}", 2)
        except FileExistsError as exc:
            if debug:
                raise
            _fail(f"error: {exc}", 2)
        except RunError as exc:
            if debug:
                raise
            _fail(f"run failed: {exc}", 1)

    return wrapper


def scenario_options(fn):
    """Options every command that loads a scenario shares."""
    fn = click.option("--debug", is_flag=True, help="Show tracebacks.")(fn)
    fn = click.option("--seed", type=int, help="Override the scenario's seed.")(fn)
    fn = click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
                      help="Override a scenario value, e.g. guests.0.memory=2GiB.")(fn)
    # a file, or a bundled scenario by name (`quickstart`): load_scenario looks it up
    fn = click.argument("scenario", type=click.Path(dir_okay=False))(fn)
    return fn


def _load(scenario, overrides, seed):
    items = list(overrides)
    if seed is not None:
        items.append(f"seed={seed}")
    from .scenario.yamlmap import read_document

    document = read_document(scenario)  # hostile or broken YAML refused before the models load
    from .scenario import load_scenario

    return load_scenario(document, items)


@contextmanager
def progress_bar(scenario, label: str, quiet: bool):
    """A progress bar over simulated time on a terminal; nothing in CI or with --quiet."""
    total = scenario.warmup + scenario.duration if scenario.duration else None
    if quiet or total is None or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed:.0f}/{task.total:.0f} s simulated"),
                  TimeElapsedColumn(), transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(label, total=total)
        yield lambda now: bar.update(task, completed=min(now, total))


def _print(renderable) -> None:
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # a log or a pipe: no need to squeeze the table into 80 columns
        console = Console(width=140)
    console.print(renderable)


@click.group()
@click.version_option(version=__version__, prog_name="tmemsim")
def main():
    """Simulate hypervisor memory policies: tmem vs host page cache vs dedup."""


@main.command()
@scenario_options
@handles_errors
def validate(scenario, overrides, seed, debug):
    """Check a scenario file and say what it describes."""
    s = _load(scenario, overrides, seed)
    from .scenario.sizing import estimate, spoken, total

    guests = s.expanded_guests()
    click.echo(f"{scenario}: ok — {len(guests)} guest(s), {len(s.disks)} disk(s), policies "
               f"{', '.join(p.name for p in s.policy_specs())}, pool "
               f"{s.pool_bytes() // 4096} pages, about {spoken(total(estimate(s)))} to simulate")


@main.command()
@scenario_options
@click.option("--policy", help="Policy name or kind (default: the scenario's first).")
@click.option("--out", type=click.Path(file_okay=False), help="Write a results directory.")
@click.option("--force", is_flag=True, help="Replace an existing results directory.")
@click.option("--check", is_flag=True, help="Coherence oracle: fail on any stale read.")
@click.option("--quiet", is_flag=True, help="No progress bar, no table.")
@handles_errors
def run(scenario, overrides, seed, debug, policy, out, force, check, quiet):
    """Run a scenario under one policy and print its summary."""
    with _staged_out(out, force, scenario) as target:  # before the models load: at once
        s = _load(scenario, overrides, seed)
        from . import api  # here, not at the top: validation and refusals stay light

        with progress_bar(s, policy or "simulating", quiet) as progress:
            result = api.simulate(s, policy=policy, check=check or None,
                                  command=_command_line(), progress=progress)
        _notes(result)
        if target:
            result.save(target)
    if not quiet:
        from .presentation.table import summary_table

        _print(summary_table(result.summary))
        if out:
            click.echo(f"results in {out}")


@main.command()
@scenario_options
@click.option("--policies", help="Comma-separated subset of the scenario's policies.")
@click.option("--out", type=click.Path(file_okay=False), help="Write a results directory.")
@click.option("--force", is_flag=True, help="Replace an existing results directory.")
@click.option("--jobs", type=int, default=None,
              help="Parallel processes (default: the number of cores).")
@click.option("--check", is_flag=True, help="Coherence oracle: fail on any stale read.")
@click.option("--quiet", is_flag=True, help="No progress bar, no table.")
@handles_errors
def compare(scenario, overrides, seed, debug, policies, out, force, jobs, check, quiet):
    """Run every policy of a scenario on the same requests and compare them."""
    with _staged_out(out, force, scenario) as target:  # before the models load: at once
        s = _load(scenario, overrides, seed)
        total = s.warmup + s.duration if s.duration else None
        from . import api  # here, not at the top: validation and refusals stay light

        with policy_progress(quiet, total, with_sim=True) as (progress, sim_progress):
            result = api.compare(s, policies=policies, jobs=jobs, check=check or None,
                                 command=_command_line(), progress=progress,
                                 sim_progress=sim_progress)
        _notes(result)
        if target:
            result.save(target)
    if not quiet:
        from .presentation.table import comparison_table

        _print(comparison_table(result.summary, title=s.name))
        if out:
            click.echo(f"results, figures and report.md in {out}")


def _notes(result) -> None:
    """What a person should know about a run that succeeded (once each, on stderr)."""
    from .workloads.trace import backward_note

    note = backward_note(result.meta.get("traces", {}))
    if note:
        click.echo(f"tmemsim: note: {note}", err=True)


@contextmanager
def policy_progress(quiet: bool, sim_total: float | None = None, with_sim: bool = False):
    """Bars on a terminal only: policies finished, and (serial runs with a duration) each
    policy's simulated time. Yields progress, or (progress, sim_progress) with with_sim;
    None for each off a terminal."""
    if quiet or not sys.stderr.isatty():
        yield (None, None) if with_sim else None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("policies", total=None)
        sim_tasks: dict = {}

        def progress(done, total):
            bar.update(task, completed=done, total=total)

        def sim_progress(policy, now):
            if sim_total is None:
                return
            if policy not in sim_tasks:
                sim_tasks[policy] = bar.add_task(f"  {policy} (simulated s)", total=sim_total)
            bar.update(sim_tasks[policy], completed=min(now, sim_total))

        yield (progress, sim_progress) if with_sim else progress


@main.command()
@click.argument("results", type=click.Path(file_okay=False))
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@handles_errors
def plot(results, debug):
    """Redraw the figures and report.md of a results directory."""
    from pathlib import Path

    from .results import redraw

    files = redraw(results)
    click.echo(f"{len(files)} files in {Path(results) / 'plots'}")


@main.command()
@click.option("--baseline", default="results/baseline.csv", show_default=True,
              type=click.Path(dir_okay=False), help="The baseline to compare against.")
@click.option("--scenarios", metavar="DIR_OR_GLOB",
              help="The scenarios to run: a folder's *.yaml or a glob (default: the "
                   "baseline's, from scenarios/).")
@click.option("--scenario", "only", multiple=True, help="Only this scenario (repeatable).")
@click.option("--update", is_flag=True, help="Rewrite the baseline with the new numbers.")
@click.option("--atol", multiple=True, metavar="[METRIC=]X",
              help="Absolute tolerance, for every metric or one (repeatable; over the "
                   "scenario's regress: block).")
@click.option("--rtol", multiple=True, metavar="[METRIC=]X",
              help="Relative tolerance, as --atol: moved when |new - old| > atol + rtol·|old|.")
@click.option("--junit", type=click.Path(dir_okay=False),
              help="Write JUnit XML: a test case per scenario, policy, guest and metric.")
@click.option("--markdown", type=click.Path(dir_okay=False),
              help="Write a markdown summary of what moved (a PR comment, "
                   "$GITHUB_STEP_SUMMARY).")
@click.option("--jobs", type=int, default=None, help="Parallel processes per comparison.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@handles_errors
def regress(baseline, scenarios, only, update, atol, rtol, junit, markdown, jobs, debug):
    """Re-run the scenarios; exit 1 if any hit rate or count moved, 2 for bad input."""
    from .analysis.regress import run
    from .analysis.regress_settings import command_line_tolerances

    outcome = run(baseline, scenarios, only=only or None, update=update, jobs=jobs,
                  tolerances=command_line_tolerances(atol, rtol))
    _regress_files(outcome, junit, markdown)
    current, moved = outcome.current, outcome.moved
    count = current["scenario"].nunique()
    if moved.empty:
        click.echo(f"{count} scenario(s), {len(current)} rows: nothing moved")
        return
    from rich.table import Table

    table = Table(title="moved since the baseline")
    for col in moved.columns:
        table.add_column(col)
    for row in moved.itertuples(index=False):
        table.add_row(*[f"{v:.6g}" if isinstance(v, float) else str(v) for v in row])
    _print(table)
    if update:
        click.echo(f"baseline {baseline} updated: {len(moved)} value(s) changed")
        return
    click.echo(f"{len(moved)} value(s) moved in {moved['scenario'].nunique()} scenario(s); "
               f"if intended, run `tmemsim regress --update` and say why in the commit")
    sys.exit(1)


def _regress_files(outcome, junit, markdown) -> None:
    from pathlib import Path

    from .analysis.ci_output import junit_xml
    from .analysis.ci_output import markdown as summary
    from .infra.atomic import write_atomic

    if junit:
        text = junit_xml(outcome.checks, outcome.seconds)
        write_atomic(junit, lambda p: Path(p).write_text(text, encoding="utf-8"))
    if markdown:
        text = summary(outcome.checks, _command_line())
        write_atomic(markdown, lambda p: Path(p).write_text(text, encoding="utf-8"))


@main.command()
@click.option("--quick", is_flag=True, help="The reduced set CI runs (under a minute).")
@click.option("--only", multiple=True, help="Checks by name, family or pattern (repeatable).")
@click.option("--out", type=click.Path(file_okay=False),
              help="A directory for verify.csv and figures.")
@click.option("--force", is_flag=True, help="Replace an existing verify directory.")
@click.option("--jobs", type=int, default=1, show_default=True, help="Parallel processes.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@handles_errors
def verify(quick, only, out, force, jobs, quiet, debug):
    """Check the model against theory and libCacheSim; exit 1 if any check fails."""
    from rich.table import Table

    from .analysis.verify import run_checks, save

    with _staged_out(out, force, None) as target, policy_progress(quiet) as progress:
        table = run_checks(quick=quick, only=list(only) or None, progress=progress, jobs=jobs)
        files = save(table, target) if out else []
    shown = Table(title="tmemsim verify" + (" --quick" if quick else ""))
    for col in ("family", "check", "expected", "simulated", "error", "tolerance", "passed"):
        shown.add_column(col, justify="left" if col in ("family", "check") else "right")
    for row in table.itertuples():
        verdict = {True: "pass", False: "[bold red]FAIL[/]", None: "skip"}[row.passed]
        shown.add_row(row.family, row.check, f"{row.expected:.6g}", f"{row.simulated:.6g}",
                      f"{row.error:+.3g}", f"{row.tolerance:.3g}", verdict)
    _print(shown)
    if out:
        click.echo(f"{len(files)} files in {out}")
    failed = table[table["passed"] == False]  # noqa: E712 - None means skipped
    skipped = table["passed"].isna().sum()
    click.echo(f"{len(table) - len(failed) - skipped} passed, {len(failed)} failed"
               + (f", {skipped} skipped" if skipped else ""))
    if len(failed):
        sys.exit(1)


@main.command()
@scenario_options
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="The sweep directory (tables, points for --resume, plots).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local",
              show_default=True, help="A local process pool, or a Dask cluster.")
@click.option("--scheduler", metavar="ADDRESS",
              help="Dask scheduler address (tcp://host:8786); default: a LocalCluster.")
@click.option("--jobs", type=int, default=None, help="Local workers (default: the cores).")
@click.option("--resume", is_flag=True, help="Skip the points already finished in --out.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first failing point.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@handles_errors
def sweep(scenario, overrides, seed, debug, out, executor, scheduler, jobs, resume, fail_fast,
          quiet):
    """Run the scenario's `sweep:` grid with replications; tables, CIs and winner maps."""
    from .sweep import sweep as run_sweep

    items = list(overrides) + ([f"seed={seed}"] if seed is not None else [])
    with policy_progress(quiet) as progress:
        result = run_sweep(scenario, overrides=items, out=out, executor=executor,
                           scheduler=scheduler, jobs=jobs, resume=resume, fail_fast=fail_fast,
                           progress=progress, command=_command_line())
    points = result.table["point"].nunique() if len(result.table) else 0
    click.echo(f"{points} point(s), {len(result.failures)} failure(s); results in {out}")
    if len(result.failures):
        for row in result.failures.head(5).itertuples():
            click.echo(f"  failed: {row._asdict()}", err=True)
        sys.exit(1)


@main.command()
@scenario_options
@click.option("--axis", type=click.Choice(["pool", "split", "guest-memory"]), default="pool",
              show_default=True, help="pool: the pool, guests fixed; split: host memory fixed, "
              "guest memory varies, the pool takes the rest; guest-memory: no pool.")
@click.option("--points", type=int, default=32, show_default=True, help="Sizes on the axis.")
@click.option("--range", "value_range", metavar="LOW:HIGH",
              help="Axis range, e.g. 16MiB:1GiB (default: 0 or one page of page cache, to the "
                   "guests' footprint or a pool of 0).")
@click.option("--sample", type=float, metavar="R",
              help="Keep a fraction R of the pages (spatial sampling, SHARDS), e.g. 0.01.")
@click.option("--check-points", type=int, default=0, show_default=True, metavar="K",
              help="Also run K full simulations at spread points, drawn over the curves.")
@click.option("--policies", help="Comma-separated subset of the scenario's policies.")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Write curves.parquet, meta.json and the figure here.")
@click.option("--force", is_flag=True, help="Replace an existing directory.")
@click.option("--quiet", is_flag=True, help="No progress bar, no table.")
@handles_errors
def curve(scenario, overrides, seed, debug, axis, points, value_range, sample, check_points,
          policies, out, force, quiet):
    """Hit-ratio curves of every policy along one axis, in one pass over the requests."""
    with _staged_out(out, force, scenario) as target:  # before the models load: at once
        s = _load(scenario, overrides, seed)
        # here, not at the top: validation and refusals stay light
        from .analysis.curves.public import curve as scenario_curve

        try:
            with policy_progress(quiet) as progress:
                result = scenario_curve(s, axis=axis, points=points, value_range=value_range,
                                        sample=sample, policies=policies,
                                        check_points=check_points, command=_command_line(),
                                        progress=progress)
        except ScenarioError as exc:
            if exc.path and not exc.file:  # a refusal about the scenario: say which file
                exc.file = scenario
            raise
        result.save(target)
    if quiet:
        return
    from rich.table import Table

    t = result.table
    t = t[(t.source == "curve") & (t.guest == "ALL") & (t.metric == "read_hit_ratio")]
    wide = t.pivot(index="axis_bytes", columns="policy", values="value")
    rows = wide.iloc[sorted({round(x) for x in
                             [i * (len(wide) - 1) / 11 for i in range(12)]})] if len(wide) > 12 \
        else wide
    table = Table(title=f"{s.name}: read hit ratio along the {axis} axis")
    table.add_column("MiB", justify="right")
    for name in result.meta["policies"]:
        table.add_column(name, justify="right")
    for value, row in rows.iterrows():
        table.add_row(f"{value / 2**20:.1f}", *(f"{row[p]:.4f}" for p in result.meta["policies"]))
    _print(table)
    errors = result.errors()
    if len(errors):
        worst = errors.loc[errors.error.abs().idxmax()]
        click.echo(f"full runs at {errors.axis_bytes.nunique()} points: largest |curve - run| "
                   f"{abs(worst.error):.4f} ({worst.policy}, {worst.axis_bytes / 2**20:.1f} MiB)")
    click.echo(f"curves ({result.meta['curve_seconds']:.1f} s), meta.json and curve.png in {out}")


def _staged_out(out, force, scenario):
    """--out checked, and its build directory made, before anything is simulated (a target
    that may not or cannot be written fails at once); nothing without --out."""
    if not out:
        return nullcontext()
    from .infra.atomic import stage
    from .library import resolve

    return stage(out, force=force, protect=[resolve(scenario)] if scenario else [])


if __name__ == "__main__":  # pragma: no cover
    main()
