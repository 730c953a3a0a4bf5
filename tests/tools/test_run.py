"""The CLI runs pipelines from their run configs and reports what the stores hold."""

from pathlib import Path

from click.testing import CliRunner

from tools.run import cli

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "iris-calder"


def test_etl_runs_from_a_config_and_the_summary_shows_it(data_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "etl.yaml"
    config.write_text(
        "parameters:\n  user_full_name: Iris Calder\n"
        f"  links:\n    - linkedin-export:{SAMPLES / 'linkedin-export'}\n"
    )
    runner = CliRunner()
    result = runner.invoke(cli, ["digital-data-etl", "--config", str(config), "--no-cache"])
    assert result.exit_code == 0, result.output

    summary = runner.invoke(cli, ["warehouse-summary"])
    assert "Iris Calder: articles: 0, posts: 7, repositories: 0" in summary.output


def test_a_missing_config_is_refused_before_anything_runs(data_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["feature-engineering", "--config", "configs/nope.yaml"])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_feature_store_summary_says_what_to_run_on_an_empty_store(data_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["feature-store-summary"])
    assert result.exit_code == 0
    assert "embedded_posts: not created yet (run `poe run-feature-engineering-pipeline`)" in result.output
