"""Every user-facing string of the signed-in dashboards in Japanese and English, and locale formatting.

Japanese is the default. Numbers use digit grouping in both languages; dates are 2025年4月 / Apr 2025;
fiscal years (April to March) are 2025年度（令和7年度） / FY2025 (April 2025 – March 2026), from observatory.calendar.
"""

from __future__ import annotations

import math
from contextvars import ContextVar
from datetime import date, datetime

from observatory import calendar

LANGS = ("ja", "en")
DEFAULT_LANG = "ja"

STRINGS: dict[str, tuple[str, str]] = {
    "app.title": ("電子行政オブザーバトリ", "e-Government Observatory"),
    "nav.overview": ("概要", "Overview"),
    "nav.area": ("地域", "Areas"),
    "nav.ministry": ("府省ワークスペース", "Ministry workspace"),
    "nav.alerts": ("アラート", "Alerts"),
    "nav.audit": ("監査ログ", "Audit log"),
    "nav.sources": ("データ鮮度", "Data freshness"),
    "nav.public": ("公開ページ", "Public page"),
    "nav.signout": ("サインアウト", "Sign out"),
    "nav.lang": ("English", "日本語"),
    "signin.title": ("サインイン", "Sign in"),
    "signin.username": ("ユーザー名", "Username"),
    "signin.password": ("パスワード", "Password"),
    "signin.submit": ("サインイン", "Sign in"),
    "signin.bad": ("ユーザー名またはパスワードが正しくありません。", "Wrong username or password."),
    "signin.locked": ("失敗が続いたため一時的にロックされています。{minutes}分後に再試行してください。",
                      "Too many failed attempts. Try again in {minutes} minutes."),
    "signin.disabled": ("このアカウントは無効化されています。", "This account is disabled."),
    "denied.title": ("アクセス権がありません", "Access denied"),
    "denied.body": ("このページを表示する権限がありません。", "You do not have permission to view this page."),
    "notfound": ("見つかりません", "Not found"),
    "filter.ministry": ("府省", "Ministry"),
    "filter.year": ("目標年", "Target year"),
    "filter.all": ("すべて", "All"),
    "filter.kpi": ("KPI", "KPI"),
    "filter.search": ("名称またはコードで検索", "Search by name or code"),
    "filter.status": ("状態", "Status"),
    "filter.scenario": ("シナリオ", "Scenario"),
    "filter.org": ("組織", "Organisation"),
    "filter.assignee": ("担当者", "Assignee"),
    "card.latest": ("最新値", "Latest"),
    "card.target": ("目標", "Target"),
    "card.projected": ("達成見込み", "Projected attainment"),
    "card.never": ("期間内に達成見込みなし", "Not within horizon"),
    "card.owner": ("担当", "Owner"),
    "group.year": ("{year}年目標", "{year} targets"),
    "col.period_status": ("その期の状況（当時の目標に対して）", "Status then (against the target then due)"),
    "card.met_on": ("達成時期", "Met in"),
    "card.met_late": ("期日後に達成", "met after the target date"),
    "card.progress": ("目標に対する割合", "Share of target"),
    "card.status_for": ("{year}年目標に対して", "against the {year} target"),
    "card.reason": ("判定の理由", "Why"),
    "card.more": ("理由・目標・見通し・担当", "Why, targets, outlook, owner"),
    "overview.more": ("ほか {n} 指標を表示", "Show {n} more KPIs"),
    "overview.counts": ("目標年ごとの状況", "Status by target year"),
    "overview.counts_row": ("{year}年目標（{n}指標）", "{year} targets ({n} KPIs)"),
    "overview.order": ("遅れの大きい指標から順に表示しています。", "KPIs furthest behind come first."),
    "banner.stale": ("更新が遅れているデータ源が{n}件あります：{names}", "{n} data source(s) are stale: {names}"),
    "banner.overdue": ("対応期限（{hours}時間）を過ぎた未完了のアラートが{n}件あります。",
                       "{n} open alert(s) are past their {hours}-hour triage deadline."),
    "banner.ok": ("データ源はすべて最新で、期限切れのアラートはありません。",
                  "All data sources are fresh and no alert is past its deadline."),
    "group.none": ("目標年なし", "No target year"),
    "status.on_track": ("順調", "On track"),
    "status.at_risk": ("要注意", "At risk"),
    "status.off_track": ("遅れ", "Off track"),
    "status.achieved": ("達成", "Achieved"),
    "status.no_data": ("データなし", "No data"),
    "status.no_target": ("目標なし", "No target"),
    "status.insufficient_data": ("データ不足", "Insufficient data"),
    "status.insufficient_recent_data": ("最新データ不足", "Insufficient recent data"),
    "overview.title": ("KPI 概要", "KPI overview"),
    "overview.none": ("表示する KPI がありません。", "No KPIs to show."),
    "overview.map": ("都道府県別", "By prefecture"),
    "table.show": ("表で見る", "Show as table"),
    "alert.previous": ("← 前のアラート", "← Previous alert"),
    "alert.next": ("次のアラート →", "Next alert →"),
    "alert.back_to_queue": ("対応キューへ戻る", "Back to the queue"),
    "muni.prefecture": ("都道府県", "Prefecture"),
    "muni.national": ("全国", "Japan"),
    "home.to_overview": ("KPI概要を開く →", "Open the KPI overview →"),
    "home.to_ministry": ("府省ワークスペースで提出する →", "Submit in the ministry workspace →"),
    "home.to_queue": ("対応キューを開く →", "Open the triage queue →"),
    "home.owed": ("提出期限を過ぎた期間", "Periods now due"),
    "home.owed_count": ("未提出 {n}件（期間の終了から{days}日を過ぎても受理されたファイルのない期間）。",
                        "{n} not yet received (periods that ended more than {days} days ago without an accepted "
                        "file)."),
    "home.due_on": ("提出期限", "Due by"),
    "home.due": ("未提出", "Not received"),
    "home.received": ("受理済み", "Received"),
    "home.queue": ("未完了のアラート {open}件、うち対応期限（{hours}時間）超過 {overdue}件。",
                   "{open} open alert(s), {overdue} past the {hours}-hour deadline."),
    "home.pages": ("ページ", "Pages"),
    "table.empty": ("該当する行はありません。", "nothing to show."),
    "forecast.no_target": ("目標が設定されていないため、予測はありません。", "no target set: no target to forecast against."),
    "download.csv": ("CSV ダウンロード", "Download CSV"),
    "col.kpi": ("KPI", "KPI"),
    "col.name": ("名称", "Name"),
    "col.code": ("コード", "Code"),
    "col.value": ("値", "Value"),
    "col.period": ("期間", "Period"),
    "col.status": ("状態", "Status"),
    "col.rank": ("順位", "Rank"),
    "col.target2020": ("2020年目標", "2020 target"),
    "col.target2023": ("2023年目標", "2023 target"),
    "col.target2026": ("2026年目標", "2026 target"),
    "col.attainment": ("達成見込み日", "Projected attainment"),
    "col.lower": ("下限", "Lower"),
    "col.upper": ("上限", "Upper"),
    "col.projected": ("予測値", "Projected"),
    "col.target": ("目標値", "Target"),
    "col.source": ("データソース", "Source"),
    "col.last_ok": ("最終成功", "Last success"),
    "col.age_hours": ("経過時間 (時間)", "Age (hours)"),
    "col.limit_hours": ("鮮度基準 (時間)", "Freshness limit (hours)"),
    "col.fresh": ("鮮度", "Freshness"),
    "col.count": ("件数", "Count"),
    "col.day": ("日付", "Day"),
    "col.budget": ("予算", "Budget"),
    "col.prefecture": ("都道府県", "Prefecture"),
    "fresh.ok": ("最新", "Fresh"),
    "fresh.stale": ("古い", "Stale"),
    "fresh.never": ("未取得", "Never loaded"),
    "sources.title": ("データソースの鮮度", "Source freshness"),
    "sources.none": ("データソースが設定されていません。", "No sources are configured."),
    "kpi.history": ("推移", "History"),
    "kpi.forecast": ("予測", "Forecast"),
    "kpi.definition": ("定義", "Definition"),
    "kpi.sources": ("出典（公表元・利用条件）", "Sources (publisher, licence)"),
    "kpi.target_sources": ("目標値の根拠", "Where the targets come from"),
    "kpi.synthetic": ("この指標の数値はデモ用の合成データです（公表データがない分野）。実在の公表値ではありません。",
                      "The figures of this indicator are synthetic demo data (nothing public exists for this area), "
                      "not published figures."),
    "kpi.measure_change": ("測定対象の変更", "Change of measure"),
    "kpi.lineage": ("データの出所", "Lineage"),
    "kpi.runs": ("収集実行", "Collector runs"),
    "kpi.submissions": ("提出ファイル", "Submissions"),
    "kpi.owner": ("担当府省", "Responsible ministry"),
    "kpi.unit": ("単位", "Unit"),
    "kpi.frequency": ("頻度", "Frequency"),
    "kpi.direction": ("望ましい方向", "Better when"),
    "kpi.higher": ("高いほど良い", "higher"),
    "kpi.lower": ("低いほど良い", "lower"),
    "kpi.level": ("集計単位", "Level"),
    "kpi.national": ("全国", "Japan (national)"),
    "nav.home": ("ホームへ", "Home"),
    "denied.offer": ("次のページは開けます：", "You may open these pages:"),
    "ministry.choose": ("府省を選んでください", "Choose a ministry"),
    "kpi.numerator": ("分子", "Numerator"),
    "kpi.denominator": ("分母", "Denominator"),
    "kpi.exclusions": ("除外・注記", "Exclusions and notes"),
    "kpi.baseline": ("基準値", "Baseline"),
    "kpi.version": ("第{v}版", "Version {v}"),
    "kpi.no_definition": ("この指標の定義は登録されていません。", "This indicator has no registered definition."),
    "kpi.band": ("予測幅", "Forecast band"),
    "area.title": ("地域別", "Areas"),
    "area.national": ("全国 (都道府県タイルマップ)", "Japan (prefecture tile map)"),
    "area.ranking": ("市区町村ランキング", "Municipal ranking"),
    "area.distribution": ("分布", "Distribution"),
    "area.pick": ("地図の都道府県を選ぶと市区町村を表示します。", "Pick a prefecture on the map to see its municipalities."),
    "area.no_area_kpi": ("地域別の値がある KPI がありません。", "No KPI has values by area."),
    "muni.title": ("市区町村", "Municipality"),
    "ministry.title": ("府省ワークスペース", "Ministry workspace"),
    "ministry.kpis": ("担当 KPI", "Our KPIs"),
    "ministry.upload": ("提出ファイルのアップロード", "Upload a submission file"),
    "ministry.drop": ("ここにファイルをドロップ、またはクリックして選択 (CSV / XLSX)",
                      "Drop a file here or click to choose (CSV / XLSX)"),
    "ministry.history": ("提出履歴", "Submission history"),
    "ministry.templates": ("テンプレート", "Templates"),
    "ministry.no_submit": ("提出機能はまだ利用できません。", "Submissions are not available yet."),
    "ministry.receipt": ("受付票", "Receipt"),
    "ministry.report": ("検証結果", "Validation report"),
    "ministry.pick_kpi": ("提出先 KPI を選択してください。", "Choose the KPI to submit for."),
    "alerts.title": ("アラート対応", "Alert triage"),
    "alerts.per_day": ("1日あたりのアラート件数と予算", "Alerts per day against the budget"),
    "alerts.ttt": ("トリアージまでの時間", "Time to triage"),
    "alerts.queue": ("対応キュー", "Queue"),
    "alerts.run": ("直近の検知実行", "Last detection run"),
    "alerts.run.none": ("検知はまだ実行されていません。", "Detection has not run yet."),
    "alerts.run.window": ("対象期間", "Window"),
    "alerts.run.window_value": ("{first}〜{last}（{engine}、{seconds}秒、{ran_at}実行）",
                                "{first} to {last} ({engine}, {seconds} s, run {ran_at})"),
    "alerts.run.explained": ("説明のつくアクセス", "Accesses explained"),
    "alerts.run.explained_value": ("{events}件中 {share}（{paths}）", "{share} of {events} ({paths})"),
    "alerts.run.floor": ("有意水準", "Significance floor"),
    "alerts.run.floor_value": ("{floor}桁（1検定あたり偶然では{odds}回に1回未満）。偶然だけで埋まるのはアラート予算の{share}まで",
                               "{floor} decades (rarer than 1 in {odds} per test by chance): chance alone may "
                               "fill at most {share} of the alert budget"),
    "alerts.run.raised": ("候補と予算", "Candidates and budget"),
    "alerts.run.raised_value": ("候補{candidates}件、予算{budget}件：新規{created}件、更新{updated}件、予算超過{over}件、"
                                "抑止{suppressed}件、判定により保留{held}件",
                                "{candidates} candidates, budget {budget}: {created} new, {updated} updated, "
                                "{over} over budget, {suppressed} suppressed, {held} held back by verdicts"),
    "alerts.run.shifted": ("帰無分布の補正（最大、桁）", "Null shifted for peer groups (largest, decades)"),
    "alerts.run.desks": ("夜間窓口の端末", "Night desks"),
    "alerts.run.desks_value": ("{terminals}台（例: {example}）。{other_staff}人以上の職員が交代で1人ずつ{other_nights}夜以上"
                               "時間外に使った夜間用の端末で、そこでの時間外の照会{staff_days}職員日分は時間外の所見に数えず、"
                               "親族・近隣・要配慮の記録は引き続き検査",
                               "{terminals} terminals (e.g. {example}) kept for the night, at which {other_staff} or more "
                               "colleagues took turns working late alone on {other_nights} nights or more: after-hours "
                               "look-ups there on {staff_days} staff-days not counted as after-hours work; relatives, "
                               "neighbours and sensitive records among them are still tested"),
    "alerts.run.batch": ("一括更新", "Batch corrections"),
    "alerts.run.batch_value": ("{staff_days}職員日、{people}人（1アカウントが1日に案件なしで{threshold}人以上を更新）。"
                               "個人へのアクセスとして件数には数えず、親族・近隣・要配慮の記録は引き続き検査",
                               "{staff_days} staff-days, {people} people ({threshold} or more updated without a case "
                               "by one account in a day): not counted as personal accesses; relatives, neighbours "
                               "and sensitive records among them are still tested"),
    "alerts.run.scenarios": ("シナリオ別：有意水準に達した職員日と偶然による期待値",
                             "Per scenario: staff-days at the floor against the number chance would give"),
    "alerts.run.at_floor": ("有意水準に達した職員日", "Staff-days at the floor"),
    "alerts.run.expected": ("偶然による期待値", "Expected by chance"),
    "path.case_unit": ("自課の案件", "case in own unit"),
    "path.logged_case": ("記録された案件（世帯）", "logged case (household)"),
    "path.logged_referral": ("記録された他課の案件", "logged case of another unit"),
    "path.referral": ("他課の案件（照会）", "referral"),
    "path.household_of_case": ("案件対象者の世帯員", "household of a case"),
    "path.follow_up": ("終結後の事後対応", "follow-up"),
    "path.repeat": ("説明済みアクセスの再閲覧", "repeat"),
    "alerts.bulk": ("選択したアラートに一括適用", "Apply to selected alerts"),
    "alert.title": ("アラート", "Alert"),
    "alert.reasons": ("理由", "Reasons"),
    "alert.recurrence": ("{code}：同じ理由が4週間以内の別々の日（{days}）に繰り返されています（合わせた証拠 {evidence}桁）",
                         "{code}: the same reason recurred on separate days within four weeks ({days}; "
                         "combined evidence {evidence} decades)"),
    "alert.timeline": ("証跡イベントの時系列と通常パターン", "Evidence timeline against the usual pattern"),
    "alert.no_evidence": ("証跡の閲覧にはセキュリティ権限が必要です。", "Evidence requires the security role."),
    "alert.related": ("同一職員の関連アラート", "Related alerts of the same person"),
    "alert.history": ("対応履歴", "History"),
    "alert.assign": ("担当者を割り当て", "Assign"),
    "alert.set_status": ("状態を変更", "Change status"),
    "alert.note": ("メモを追加", "Add note"),
    "alert.save": ("保存", "Save"),
    "alert.saved": ("保存しました。", "Saved."),
    "alert.usual": ("通常の時間帯 (平均件数)", "Usual pattern (mean events)"),
    "alert.events": ("証跡イベント", "Evidence events"),
    "alert.none": ("該当するアラートはありません。", "No matching alerts."),
    "scenario.household": ("同一世帯の閲覧", "Own household"),
    "scenario.surname": ("同姓住民の閲覧", "Same surname"),
    "scenario.neighbour": ("近隣住民の閲覧", "Neighbours"),
    "scenario.coworker": ("同僚の記録の閲覧", "Co-workers"),
    "scenario.sensitive": ("要配慮者（著名人等）の閲覧", "Public figures"),
    "scenario.curiosity": ("案件なしの多数閲覧", "Browsing without cases"),
    "scenario.out_of_jurisdiction": ("管轄外住民の閲覧", "Outside the jurisdiction"),
    "scenario.after_hours": ("勤務時間外の閲覧", "After hours"),
    "scenario.terminated": ("退職後のアカウント利用", "Account used after termination"),
    "scenario.two_sites": ("2拠点からの同時利用", "Two sites at once"),
    "scenario.bulk_export": ("大量出力・検索", "Bulk export or search"),
    "scenario.update_without_case": ("案件なしの更新", "Update without a case"),
    "scenario.low_and_slow": ("同一人物の反復閲覧", "Same person, repeatedly"),
    "scenario.update_after_view": ("閲覧後の案件なし更新", "Update after a look, without a case"),
    "relation.self": ("本人の記録", "own record"),
    "relation.household": ("同一世帯", "same household"),
    "relation.surname": ("同じ市区町村の同姓", "same surname, same municipality"),
    "relation.neighbour": ("近隣住民", "neighbour"),
    "relation.coworker": ("同じ組織の職員", "co-worker"),
    "relation.sensitive": ("要配慮者（著名人等）", "public figure"),
    "relation.none": ("関係なし（名簿上）", "no relation found"),
    "alert.who": ("誰が", "Who"),
    "alert.relation": ("閲覧された人との関係", "Relationship to the staff member"),
    "alert.case": ("案件", "Case"),
    "alert.no_case": ("案件なし", "no case"),
    "alert.peers": ("同じ組織・職種の職員（1人あたり平均）", "Peers, same organisation and role (mean per person)"),
    "alert.usual_hours": ("通常の勤務時間帯: 本人 {own}、同僚 {peers}", "Usual hours: own {own}, peers {peers}"),
    "alert.decide": ("判定", "Decision"),
    "alert.decide_note": ("判定メモ（任意）", "Note for the decision (optional)"),
    "alert.to_investigating": ("調査中にする", "Mark investigating"),
    "alert.summary": ("{n}件の証跡のうち、案件なし{no_case}件、本人と関係のある人{related}件。",
                      "Of {n} evidence events, {no_case} had no case and {related} concerned someone related to the "
                      "staff member."),
    "alert.similar": ("同一職員の過去のアラートと判定", "Past alerts of the same person and how they were closed"),
    "col.deadline": ("対応期限", "Triage deadline"),
    "col.raised": ("発生からの経過", "Waiting"),
    "col.overdue": ("期限超過", "Overdue"),
    "col.staff_role": ("職種", "Role"),
    "col.unit": ("所属", "Unit"),
    "alerts.overdue": ("対応期限（{hours}時間）を過ぎた未完了", "Open past the {hours}-hour deadline"),
    "role.cio": ("CIO室", "CIO office"),
    "role.admin": ("管理者", "Administrator"),
    "role.ministry": ("府省担当", "Ministry"),
    "role.security": ("セキュリティ担当", "Security"),
    "outcome.ok": ("成功", "OK"),
    "outcome.denied": ("拒否", "Denied"),
    "outcome.failed": ("失敗", "Failed"),
    "outcome.rejected": ("却下", "Rejected"),
    "act.view": ("閲覧", "viewed"),
    "act.signin": ("サインイン", "Sign-in"),
    "act.signout": ("サインアウト", "Sign-out"),
    "act.publish": ("公開サイトの更新", "Public site published"),
    "act.download": ("ダウンロード", "Download"),
    "act.submission.submit": ("提出ファイルの受付", "Submission received"),
    "act.submission.view": ("提出の閲覧", "Submission viewed"),
    "act.alerts.assign": ("アラートの担当割当", "Alert assigned"),
    "act.alerts.bulk": ("アラートの一括処理", "Alerts changed in bulk"),
    "act.alerts.create": ("アラートの発生", "Alert raised"),
    "act.alerts.detect": ("検知の実行", "Detection run"),
    "act.alerts.evidence": ("証跡の閲覧", "Evidence viewed"),
    "act.alerts.export": ("アラートの出力", "Alerts exported"),
    "act.alerts.get": ("アラートの閲覧", "Alert viewed"),
    "act.alerts.history": ("アラート履歴の閲覧", "Alert history viewed"),
    "act.alerts.list": ("アラート一覧の閲覧", "Alert queue viewed"),
    "act.alerts.note": ("アラートへのメモ", "Note on an alert"),
    "act.alerts.per_day": ("日別アラート件数の閲覧", "Alerts per day viewed"),
    "act.alerts.related": ("関連アラートの閲覧", "Related alerts viewed"),
    "act.alerts.status": ("アラートの判定・状態変更", "Alert status changed"),
    "act.alerts.triage_times": ("対応時間の閲覧", "Time to triage viewed"),
    "page.audit": ("監査ログ", "Audit log"), "page.submissions": ("提出履歴", "Submission history"),
    "page.alert": ("アラート", "Alert"), "page.alerts": ("アラート一覧", "Alert queue"),
    "page.overview": ("KPI概要", "KPI overview"), "page.kpi": ("KPI詳細", "KPI detail"),
    "page.area": ("地域別", "Areas"), "page.municipality": ("市区町村", "Municipality"),
    "page.sources": ("データ源", "Sources"), "page.ministry": ("府省", "Ministry"),
    "page.submission": ("提出", "Submission"), "page.home": ("ホーム", "Home"),
    "audit.from": ("開始日", "From"),
    "audit.to": ("終了日", "To"),
    "audit.page": ("{page} / {pages} ページ（全{total}件）", "Page {page} of {pages} ({total} entries)"),
    "audit.prev": ("← 新しい50件", "← Newer 50"),
    "audit.next": ("古い50件 →", "Older 50 →"),
    "age.hours": ("{n}時間", "{n} h"),
    "age.days": ("{n}日", "{n} days"),
    "astatus.new": ("新規", "New"),
    "astatus.investigating": ("調査中", "Investigating"),
    "astatus.true_positive": ("不正閲覧 (確定)", "True positive"),
    "astatus.benign": ("正当 (業務上)", "Benign"),
    "astatus.false_positive": ("誤検知", "False positive"),
    "severity.critical": ("緊急", "Critical"),
    "severity.high": ("高", "High"),
    "severity.medium": ("中", "Medium"),
    "severity.low": ("低", "Low"),
    "col.alert": ("アラート", "Alert"),
    "col.staff": ("職員", "Staff"),
    "col.severity": ("重大度", "Severity"),
    "col.score": ("スコア", "Score"),
    "col.first_seen": ("初回", "First seen"),
    "col.age_days": ("経過日数", "Age (days)"),
    "col.scenarios": ("シナリオ", "Scenarios"),
    "col.assignee": ("担当者", "Assignee"),
    "col.at": ("日時", "Time"),
    "col.actor": ("実施者", "Actor"),
    "col.action": ("操作", "Action"),
    "col.note": ("メモ", "Note"),
    "col.target_obj": ("対象", "Target"),
    "col.outcome": ("結果", "Outcome"),
    "col.role": ("ロール", "Role"),
    "col.client": ("接続元", "Client"),
    "col.hours": ("時間", "Hours"),
    "col.median": ("中央値", "Median"),
    "col.within_sla": ("期限内の割合", "Share within service level"),
    "col.submission": ("提出", "Submission"),
    "col.submitted_at": ("提出日時", "Submitted"),
    "col.submitted_by": ("提出者", "Submitted by"),
    "col.file": ("ファイル", "File"),
    "col.rows": ("受理行数", "Rows accepted"),
    "col.errors": ("エラー", "Errors"),
    "col.hour": ("時", "Hour"),
    "col.version": ("定義版", "Definition version"),
    "col.from_status": ("変更前", "From"),
    "col.to_status": ("変更後", "To"),
    "col.started": ("開始", "Started"),
    "submission.title": ("提出", "Submission"),
    "submission.receipt": ("受付票", "Receipt"),
    "submission.id": ("受付番号", "Submission id"),
    "submission.sha256": ("ファイルのハッシュ (SHA-256)", "File hash (SHA-256)"),
    "submission.format": ("形式・文字コード", "Format and encoding"),
    "submission.rows_total": ("データ行数", "Data rows"),
    "submission.rows_accepted": ("受理行数", "Rows accepted"),
    "submission.kpi_changed": ("更新された KPI 値", "KPI values changed"),
    "submission.not_recomputed": ("KPI は再計算されていません", "KPIs not recomputed"),
    "submission.origin": ("提出元", "Submitted from"),
    "submission.warnings": ("警告", "Warnings"),
    "submission.duplicate_of": ("同一ファイルの受付番号", "Identical to submission"),
    "submission.report": ("検証結果", "Validation report"),
    "submission.report_none": ("検証結果は記録されていません。", "No validation report was recorded."),
    "submission.severity_filter": ("表示する種別", "Show"),
    "submission.history": ("期間ごとの履歴", "History by period"),
    "submission.changes": ("値の変更 (置き換えた版との差分)", "Changed values (against the version replaced)"),
    "submission.versions": ("関連する版", "Related versions"),
    "submission.superseded": ("この提出が置き換えた版", "Versions this submission superseded"),
    "submission.superseding": ("この提出を置き換えた版", "Versions that superseded this submission"),
    "submission.same_kpi": ("同じ KPI・府省の提出", "Submissions for the same KPI and ministry"),
    "submission.none": ("なし", "None"),
    "submission.back": ("府省ワークスペースに戻る", "Back to the ministry workspace"),
    "col.supersedes": ("置き換えた版", "Supersedes"),
    "col.superseded_by": ("置き換えられた版", "Superseded by"),
    "col.rows_total": ("行数", "Rows"),
    "col.rows_added": ("追加", "Added"),
    "col.rows_changed": ("変更", "Changed"),
    "col.rows_removed": ("削除", "Removed"),
    "col.rows_unchanged": ("変更なし", "Unchanged"),
    "col.entity": ("対象コード", "Entity code"),
    "col.column": ("列", "Column"),
    "col.change": ("変更種別", "Change"),
    "col.old_value": ("変更前", "Before"),
    "col.new_value": ("変更後", "After"),
    "col.code_kind": ("種別コード", "Code"),
    "psev.error": ("エラー", "Error"),
    "psev.warning": ("警告", "Warning"),
    "psev.info": ("情報", "Info"),
    "sstatus.accepted": ("受理", "Accepted"),
    "sstatus.rejected": ("不受理", "Rejected"),
    "sstatus.duplicate": ("重複 (読込なし)", "Duplicate (not loaded)"),
    "sstatus.superseded": ("置き換え済み", "Superseded"),
    "sstatus.denied": ("拒否", "Denied"),
    "report.severity": ("種別", "Severity"),
    "report.row": ("行", "Row"),
    "report.column": ("列", "Column"),
    "report.value": ("値", "Value"),
    "report.reason": ("理由", "Reason"),
    "audit.title": ("監査ログ (監視者の監視)", "Audit log (who watched the watchers)"),
    "unit.percent": ("割合（%）", "Percentage (%)"),
    "unit.count": ("件数", "Count"),
    "unit.days": ("日数", "Days"),
    "unit.hours": ("時間", "Hours"),
    "unit.per_1000": ("千人当たり", "Per 1,000"),
    "unit.yen": ("円", "Yen"),
    "unit.ratio": ("比率", "Ratio"),
    "freq.monthly": ("月次", "Monthly"),
    "freq.quarterly": ("四半期", "Quarterly"),
    "freq.fiscal_year": ("年度", "Fiscal year"),
}


def normalise_lang(lang: str | None) -> str:
    """'en' or 'ja' (the default) from whatever a URL or cookie said."""
    return lang if lang in LANGS else DEFAULT_LANG


def t(key: str, lang: str, **kwargs: object) -> str:
    """The string `key` in `lang`; a missing key shows itself so it is noticed, never crashes."""
    pair = STRINGS.get(key)
    if pair is None:
        return key
    text = pair[1] if normalise_lang(lang) == "en" else pair[0]
    return text.format(**kwargs) if kwargs else text


def status_label(status: str | None, lang: str) -> str:
    """A KPI or forecast status in words (never colour alone)."""
    return t(f"status.{status}", lang) if status else "-"


reiwa = calendar.era_year  # the era year of a fiscal year, in the era of most of it (令和元年度 = FY2019)
fiscal_year_of = calendar.fiscal_year_of


def format_fy(fiscal_year: int, lang: str) -> str:
    """The calendar's long label: 2025年度（令和7年度） / FY2025 (April 2025 – March 2026)."""
    return calendar.fiscal_year_label(fiscal_year, normalise_lang(lang), "long")


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


COUNT_UNITS = ("count", "people")  # whole things: shown as integers (an average of 1,609,909.7 is 1,609,910)


def format_number(value: float | int | None, lang: str, *, digits: int = 1, unit: str | None = None) -> str:
    """12,345.6 with grouping, '-' for missing; percent values get a % sign, days 日/days."""
    if _is_missing(value):
        return "-"
    v = float(value)
    text = f"{v:,.0f}" if (v.is_integer() and unit != "percent") or unit in COUNT_UNITS else f"{v:,.{digits}f}"
    if unit == "percent":
        return f"{text}%"
    if unit == "days":
        return f"{text}日" if normalise_lang(lang) == "ja" else f"{text} days"
    return text


def format_month(value: date | datetime | str | None, lang: str) -> str:
    """2025年4月 / Apr 2025."""
    if _is_missing(value):
        return "-"
    d = date.fromisoformat(str(value)[:10]) if isinstance(value, str) else value
    return d.strftime("%b %Y") if normalise_lang(lang) == "en" else f"{d.year}年{d.month}月"


def format_period(value: date | str | None, frequency: str | None, lang: str) -> str:
    """A KPI period per its frequency, the calendar's long label: month, fiscal quarter (2025年度第1四半期 /
    FY2025 Q1) or fiscal year (2025年度（令和7年度） / FY2025 (April 2025 – March 2026))."""
    if _is_missing(value):
        return "-"
    d = date.fromisoformat(str(value)[:10]) if isinstance(value, str) else value
    return calendar.period_label(d, frequency, normalise_lang(lang), "long")


def format_date(value: date | datetime | str | None, lang: str) -> str:
    """2025年4月1日 / 1 Apr 2025."""
    if _is_missing(value):
        return "-"
    d = date.fromisoformat(str(value)[:10]) if isinstance(value, str) else value
    if isinstance(d, datetime):
        d = d.date()
    return f"{d.day} {d.strftime('%b %Y')}" if normalise_lang(lang) == "en" else f"{d.year}年{d.month}月{d.day}日"


# The zone stored instants are shown in: the workspace's (config.timezone), set for each request by
# dashboards.app; the calendar's default (Japan) outside a request.
DISPLAY_ZONE: ContextVar[str | None] = ContextVar("observatory_display_zone", default=None)


def format_datetime(value: datetime | str | None, lang: str) -> str:
    """2025年4月1日 09:30 / 1 Apr 2025 09:30 JST: stored instants in the workspace's time zone (DISPLAY_ZONE),
    the English form naming it."""
    if _is_missing(value):
        return "-"
    dt = datetime.fromisoformat(str(value)) if isinstance(value, str) else value
    if dt.tzinfo is not None:
        dt = dt.astimezone(calendar.zone(DISPLAY_ZONE.get()))
        return f"{format_date(dt, lang)} {dt.strftime('%H:%M')}" + (
            f" {dt.strftime('%Z')}" if normalise_lang(lang) == "en" else "")
    return f"{format_date(dt, lang)} {dt.strftime('%H:%M')}"


def name_of(row: dict, lang: str, base: str = "name") -> str:
    """row['name_en'] in English (falling back to Japanese), row['name_ja'] in Japanese."""
    if normalise_lang(lang) == "en":
        return str(row.get(f"{base}_en") or row.get(f"{base}_ja") or "")
    return str(row.get(f"{base}_ja") or row.get(f"{base}_en") or "")


def person_label(code: str | None, name: str | None = None) -> str:
    """A person as people read them: the display name with the code alongside ('佐藤 花子 (sato)'), else the code."""
    if not code:
        return "-"
    return f"{name} ({code})" if name else str(code)


def format_age(hours: float | None, lang: str) -> str:
    """A waiting time in words: hours below two days, whole days from then (integers, never fractions)."""
    if _is_missing(hours):
        return "-"
    h = float(hours)
    return t("age.hours", lang, n=int(h)) if h < 48 else t("age.days", lang, n=int(h // 24))


def scenario_names(codes: list[str] | tuple[str, ...] | None, lang: str) -> str:
    """Scenario codes as words in the page's language (the code itself where no word is known)."""
    return "、".join(t(f"scenario.{c}", lang) if f"scenario.{c}" in STRINGS else c for c in codes or []) \
        if normalise_lang(lang) == "ja" else \
        ", ".join(t(f"scenario.{c}", lang) if f"scenario.{c}" in STRINGS else c for c in codes or [])


def action_label(code: str | None, lang: str) -> str:
    """An audit action code in words ('dashboard.audit.view' -> 監査ログの閲覧); unknown codes show as they are."""
    if not code:
        return "-"
    if f"act.{code}" in STRINGS:
        return t(f"act.{code}", lang)
    parts = code.split(".")
    if parts[0] == "dashboard" and len(parts) == 3 and f"page.{parts[1]}" in STRINGS:
        page, verb = t(f"page.{parts[1]}", lang), t(f"act.{parts[2]}", lang) if f"act.{parts[2]}" in STRINGS \
            else parts[2]
        return f"{page}の{verb}" if normalise_lang(lang) == "ja" else f"{page} {verb}"
    if parts[0] == "download" and len(parts) >= 2:
        return f"{t('act.download', lang)}: {'.'.join(parts[1:])}"
    return code


def role_label(role: str | None, lang: str) -> str:
    """A role code in words (cio -> CIO室)."""
    return t(f"role.{role}", lang) if role and f"role.{role}" in STRINGS else (role or "-")


def unit_words(unit: str | None, lang: str) -> str:
    """A unit code in words for axis titles and facts (percent -> 割合（%）)."""
    return t(f"unit.{unit}", lang) if unit and f"unit.{unit}" in STRINGS else (unit or "")
