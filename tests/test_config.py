"""observatory.yaml parsed: every refusal is one line naming the file (and line, or field) and the reason."""

from __future__ import annotations

import pytest

from observatory.config import ConfigError, parse_config


@pytest.mark.parametrize(("text", "where", "reason"), [
    ("sources: [\n", "observatory.yaml:2:1: ", "expected the node content, but found '<stream end>'"),
    ("timezone: Asia/Tokyo\n\tsources: []\n", "observatory.yaml:2:1: ", "found character '\\t' that cannot start"),
    ('timezone: "Asia/Tokyo\n', "observatory.yaml:2:1: ", "found unexpected end of stream"),
])
def test_yaml_that_does_not_parse_is_one_line_with_its_line_and_column(text: str, where: str, reason: str):
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(where + "YAMLとして読めません / not valid YAML: ")
    assert reason in message


@pytest.mark.parametrize(("text", "field", "name"), [
    ("sources:\n  - {name: feed, kind: usage-rates, directory: a}\n  - {name: feed, kind: card-issuance, "
     "directory: b}\n", "sources", "'feed'"),
    ("users:\n  - {username: sato, role: cio}\n  - {username: sato, role: admin}\n", "users", "'sato'"),
])
def test_a_name_given_twice_is_refused(text: str, field: str, name: str):
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    message = str(caught.value)
    assert message.startswith("observatory.yaml: 設定が不正です / ")
    assert f"{field}: 名前が重複しています / duplicate name(s) {name}" in message


def test_distinct_names_are_accepted():
    config = parse_config("sources:\n  - {name: a, kind: usage-rates, directory: a}\n"
                          "  - {name: b, kind: usage-rates, directory: b}\nusers:\n  - {username: a, role: cio}\n")
    assert [s.name for s in config.sources] == ["a", "b"]


@pytest.mark.parametrize("text, field", [
    ("sources:\n  - {name: a, kind: usage-rates, directory: a, schedule: '0 * * *'}\n", "sources.0.schedule"),
    ("sources:\n  - {name: a, kind: usage-rates, directory: a, schedule: '61 * * * *'}\n", "sources.0.schedule"),
    ("publish: {schedule: 'every five minutes'}\n", "publish.schedule"),
])
def test_a_schedule_that_is_not_a_crontab_is_refused_when_the_configuration_loads(text: str, field: str):
    """A typo in a schedule passed init and status and stopped the scheduler (or `serve`) only when it started."""
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    assert f"{field}:" in str(err.value) and "crontab" in str(err.value)


def test_five_and_six_field_schedules_are_accepted():
    config = parse_config("sources:\n  - {name: a, kind: usage-rates, directory: a, schedule: '*/5 * * * * *'}\n"
                          "publish: {schedule: '30 6 * * mon-fri'}\n")
    assert config.sources[0].schedule == "*/5 * * * * *" and config.publish.schedule == "30 6 * * mon-fri"
