"""`plan --format markdown`: a pull-request comment that renders as a table and folded diffs,
whatever the live side contains."""

from __future__ import annotations

from markdown_it import MarkdownIt

from tests.deploy.conftest import SEED, Live

CHANGES = 2


def _table_rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [row for row in body.split("<tr>")[1:]]


def test_markdown_plan_renders_a_table_and_folded_policy_diffs(live: Live) -> None:
    assert live.run("apply", str(SEED), "--auto-approve").exit_code == 0
    live.state.edit("backends/aoai-swc", url="https://evil.example/a|b`c<script>x</script>")
    policy = live.state.properties("apis/azure-openai/policies/policy")["value"]
    live.state.edit("apis/azure-openai/policies/policy", value=policy.replace("<base />", "", 1))
    result = live.run("plan", str(SEED), "--format", "markdown", "--detailed-exitcode")
    assert result.exit_code == CHANGES, result.output
    text = result.stdout
    assert text.startswith("### apimgen plan for `contoso-ai-gateway`")
    html = MarkdownIt("commonmark").enable("table").render(text)
    rows = _table_rows(html)
    assert len(rows) == 2, "one row per changed resource"
    backend = next(r for r in rows if "backends/aoai-swc" in r)
    assert "<script>" not in backend and "&lt;script&gt;" in backend
    assert backend.count("<td>") == 4, "the pipe in the live value did not split the row"
    assert "<details><summary>Policy diff:" in text
    assert "```diff\n--- live/apis/azure-openai/policies/policy" in text


def test_markdown_plan_without_changes_says_so(live: Live) -> None:
    assert live.run("apply", str(SEED), "--auto-approve").exit_code == 0
    result = live.run("plan", str(SEED), "--format", "markdown")
    assert result.exit_code == 0
    assert "**0 to create, 0 to update, 0 to delete**" in result.stdout
    assert "No changes: the instance matches the spec." in result.stdout
