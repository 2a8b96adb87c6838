"""Reason codes and their plain Japanese and English texts, filled with the evidence numbers."""

from __future__ import annotations

from typing import Any

# code -> (scenario, Japanese template, English template); templates use the finding's evidence fields.
REASONS: dict[str, tuple[str, str, str]] = {
    "household": ("household", "案件なしで同一世帯の記録を{n}件閲覧",
                  "viewed {n} records in own household without a case"),
    # surname, neighbour and out-of-jurisdiction tests count households (anomaly.features.household_unit)
    "surname": ("surname", "案件なしで同じ市区町村の同姓の住民{n}人 ({observed:.0f}世帯) を閲覧 (偶然の期待値 {expected:.2f}世帯)",
                "viewed {n} residents with own surname in own municipality ({observed:.0f} household(s)) without a "
                "case (expected by chance {expected:.2f} household(s))"),
    "surname_nearby": ("surname", "案件なしで自宅と同じ・隣接する地区に住む同姓の住民{n}人 ({observed:.0f}世帯) を閲覧 "
                                  "(偶然の期待値 {expected:.2f}世帯)",
                       "viewed {n} residents with own surname living in own or an adjacent block ({observed:.0f} "
                       "household(s)) without a case (expected by chance {expected:.2f} household(s))"),
    "neighbour": ("neighbour", "案件なしで近隣住民{n}人 ({observed:.0f}世帯) を閲覧 (偶然の期待値 {expected:.2f}世帯)",
                  "viewed {n} neighbours ({observed:.0f} household(s)) without a case (expected by chance "
                  "{expected:.2f} household(s))"),
    "coworker": ("coworker", "案件なしで同じ組織の職員{n}人の記録を閲覧",
                 "viewed the records of {n} co-workers in the same organisation without a case"),
    "coworker_span": ("coworker", "案件なしで同じ組織の職員{n}人の記録を{span}日間のうち{days}日に閲覧 (偶然の期待値 {expected:.2f})",
                      "viewed the records of {n} co-workers in the same organisation without a case on {days} days "
                      "within {span} days (expected by chance {expected:.2f})"),
    "sensitive": ("sensitive", "案件なしで要配慮者 (著名人等) {n}人の記録を閲覧",
                  "viewed {n} sensitive (public figure) records without a case"),
    "curiosity": ("curiosity", "案件なしで{n}人を閲覧 (本人の通常 {own:.0f}人/日, 同職種 {peer:.0f}人/日)",
                  "browsed {n} people without a case (own usual {own:.0f}/day, role peers {peer:.0f}/day)"),
    "out_of_jurisdiction": ("out_of_jurisdiction", "案件なしで管轄外の住民{n}人 ({observed:.0f}世帯) を閲覧 "
                                                   "(期待値 {expected:.2f}世帯)",
                            "viewed {n} residents outside the jurisdiction ({observed:.0f} household(s)) without a "
                            "case (expected {expected:.2f} household(s))"),
    "after_hours": ("after_hours", "勤務時間外に案件なしで{n}人を閲覧 (期待値 {expected:.2f})",
                    "viewed {n} people after hours without a case (expected {expected:.2f})"),
    "unusual_terminal": ("after_hours", "普段使わない拠点の端末 {site} から案件なしで{n}人を閲覧",
                         "viewed {n} people without a case from an unusual site {site}"),
    "terminated": ("terminated", "退職日 {terminated_on} 後にアカウントで{n}件のアクセス",
                   "account used for {n} accesses after its termination date {terminated_on}"),
    "two_sites": ("two_sites", "同一アカウントが{minutes}分以内に2拠点 ({sites}) から{n}回交互に利用",
                  "account used from two sites ({sites}) within {minutes} minutes, {n} switches"),
    "bulk_export": ("bulk_export", "大量出力・検索 {records}件 (本人・同職種の通常上限 {reference:.0f}件)",
                    "bulk export or search of {records} records (own and role peers' usual maximum "
                    "{reference:.0f})"),
    "update_without_case": ("update_without_case", "案件なしで{n}人の記録を更新 (改ざんの可能性)",
                            "updated {n} people's records without a case (possible tampering)"),
    "update_after_view": ("update_after_view",
                          "案件なしで、{revisit_days}日以内に案件なしで閲覧した{n}人の記録を更新 (案件なしの更新{n_updates}件中; "
                          "偶然の期待値 {expected:.2f})",
                          "updated without a case the records of {n} people accessed without a case in the "
                          "{revisit_days} days before ({n} of {n_updates} updates without a case; expected by chance "
                          "{expected:.2f})"),
    "low_and_slow": ("low_and_slow", "案件なしで同一人物を{days}日間 ({span}日にわたり) 繰り返し閲覧",
                     "viewed the same person without a case on {days} days over {span} days"),
}
SCENARIOS = tuple(dict.fromkeys(s for s, _, _ in REASONS.values()))


def scenario_of(code: str) -> str:
    """The scenario a reason code belongs to."""
    return REASONS[code][0]


class _Default(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def reason(code: str, evidence: dict[str, Any]) -> dict[str, Any]:
    """A reason entry {code, text_ja, text_en, text, evidence} for an alert."""
    _, ja, en = REASONS[code]
    fields = _Default({k: v for k, v in evidence.items() if v is not None})
    try:
        text_ja, text_en = ja.format_map(fields), en.format_map(fields)
    except (ValueError, TypeError):
        text_ja, text_en = ja, en
    days, events = evidence.get("days_in_episode"), evidence.get("events_in_episode")
    if days and days > 1 and events:  # the text's figures are its strongest day's; the episode's whole span too
        text_ja += f"（このエピソードでは{days}日間、計{events}件）"
        text_en += f" (on {days} days of the episode, {events} events in all)"
    return {"code": code, "text_ja": text_ja, "text_en": text_en, "text": f"{text_ja} / {text_en}",
            "evidence": evidence}
