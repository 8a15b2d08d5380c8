"""The ``encore`` command line: one entry point, one sub-command group per role, each
defined by the part that owns it and mounted here.

Heavy libraries (TensorFlow, Spark, Feast) are imported inside the commands that need
them, so ``encore --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from encore.platform import config as config_mod
from encore.platform.batch.cli import app as batch_app
from encore.platform.bench.cli import app as bench_app
from encore.platform.data.cli import app as data_app
from encore.platform.events.cli import app as events_app
from encore.platform.registry_cli import app as models_app
from encore.platform.stack.cli import app as stack_app
from encore.platform.stream.cli import app as stream_app
from encore.platform.world.cli import app as world_app
from encore.ranking.cli import bench_rank_command, eval_rank_command, set_behaviour_factory, train_rank_command
from encore.ranking.nowplaying_bench import bench_rank_nowplaying_command
from encore.recall.ann_bench import bench_ann_command
from encore.recall.batch_bench import bench_batch_recall_command
from encore.recall.batch_cli import batch_recall_command
from encore.recall.cli import app as eval_app
from encore.recall.cli import train_recall_command
from encore.recall.graph_bench import bench_recall_graph_command
from encore.recall.emotion_bench import bench_emotion_command, train_emotion_command
from encore.recall.neural_bench import bench_recall_neural_command
from encore.serving.ab.cli import ab_command
from encore.recall.session.bench import bench_session_command
from encore.recall.session.cli import eval_session_command, train_session_command
from encore.serving.behaviours import behaviours_for_config
from encore.serving.bench import bench_serve_command
from encore.serving.cli import events_serve, recommender_serve
from encore.serving.eval_cli import eval_pipeline_command, train_all_command
from encore.serving.rank_study import rank_study_command
from encore.cli.features import app as features_app

app = typer.Typer(
    name="encore",
    help="Encore: multi-stage recall-and-rank music recommendation platform.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
protos_app = typer.Typer(help="The gRPC wire contract in protos/encore/v1.", no_args_is_help=True)
train_app = typer.Typer(help="Train models and publish them to the model registry.", no_args_is_help=True)


@app.callback()
def _root(
    config: Optional[Path] = typer.Option(
        None, "--config", help="YAML file overriding encore/platform/encore.yaml "
        "(also $ENCORE_CONFIG).", exists=True, dir_okay=False,
    ),
) -> None:
    if config is not None:
        import os

        os.environ[config_mod.CONFIG_ENV] = str(config)
        config_mod.default_config.cache_clear()
    try:
        config_mod.default_config()
    except config_mod.ConfigError as err:
        raise typer.BadParameter(str(err), param_hint="--config") from err


@protos_app.command("build")
def protos_build() -> None:
    """Regenerate the committed Python modules from protos/encore/v1/*.proto."""
    from encore.protos.build import build

    for path in build():
        typer.echo(f"wrote {path}")


@app.command("demo")
def demo(
    out: Path = typer.Option(Path(".runtime/demo"), help="Folder for the demo's world and artifacts."),
    users: Optional[int] = typer.Option(None, help="Override world.users for the demo."),
    days: Optional[int] = typer.Option(None, help="Override world.days for the demo."),
) -> None:
    """Run the main job: a small world through Kafka, the stream processor and Feast, then
    the baseline recall channels and the baseline ranker (trained on the Spark
    ranking_samples of the last days) published to the registry and the Recommender
    answering a ranked daily-recommend list and a private-radio continuation over gRPC."""
    from encore.platform.demo import run_demo
    from encore.serving.demo import serve_demo

    try:
        result = run_demo(out=out, users=users, days=days)
    except config_mod.ConfigError as err:
        raise typer.BadParameter(str(err)) from err
    assert result.config is not None and result.world_dir is not None  # set by every completed demo
    serve_demo(result.config, result.world_dir, result.listener)


app.command("serve")(recommender_serve)
app.command("ab")(ab_command)  # offline A/B of two pipeline configurations (encore.serving.ab)
app.add_typer(world_app, name="world")
app.add_typer(data_app, name="data")
app.add_typer(stack_app, name="stack")
bench_app.command("serve")(bench_serve_command)  # serving's benchmark (platform does not import serving)
bench_app.command("recall-neural")(bench_recall_neural_command)
bench_app.command("recall-graph")(bench_recall_graph_command)
bench_app.command("batch-recall")(bench_batch_recall_command)  # recall's batch job benchmark
bench_app.command("ann")(bench_ann_command)  # recall's benchmark (platform does not import recall)
bench_app.command("rank")(bench_rank_command)  # ranking's benchmark (platform does not import ranking)
bench_app.command("emotion")(bench_emotion_command)
bench_app.command("session")(bench_session_command)  # the session GNN vs the simple session methods
bench_app.command("rank-study")(rank_study_command)  # rank.json from one run: speed, AUCs, claims, reward
bench_app.command("rank-nowplaying")(bench_rank_nowplaying_command)  # DIN / DIEN on real sessions
set_behaviour_factory(behaviours_for_config)  # sequence rankers' behaviours: the Query builder via serving
app.add_typer(bench_app, name="bench")
app.add_typer(protos_app, name="protos")
app.add_typer(features_app, name="features")
events_app.command("serve")(events_serve)
app.add_typer(events_app, name="events")
app.add_typer(stream_app, name="stream")
batch_app.command("recall")(batch_recall_command)  # recall's batch job (platform does not import recall)
app.add_typer(batch_app, name="batch")
app.add_typer(models_app, name="models")
train_app.command("rank")(train_rank_command)
train_app.command("all")(train_all_command)
train_app.command("recall")(train_recall_command)
train_app.command("emotion")(train_emotion_command)
train_app.command("session")(train_session_command)
app.add_typer(train_app, name="train")
eval_app.command("rank")(eval_rank_command)  # beside `eval recall` (encore.recall.cli)
eval_app.command("pipeline")(eval_pipeline_command)
eval_app.command("session")(eval_session_command)
app.add_typer(eval_app, name="eval")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
