"""The clause map: for each policy clause, what implements it and which tests prove it.

This is the one source of truth for ``/privacy/practice.json`` and for the
"code" and "tests" links under each evidence panel of ``/privacy``.
``tests/test_practice.py`` holds it to reality: every clause has an entry
with at least one test, every named test, route, module and function
exists. Renaming a test or a function without updating this map fails
that test, so the map cannot drift from the code.
"""

from dataclasses import dataclass

from ..policy_text import POLICY_VERSION

FORM_ROUTES = ("/newsletter", "/survey", "/register", "/checkout", "/board", "/chat", "/contact")


@dataclass(frozen=True)
class CodeRef:
    """A function or class in a module, named as ``path: name`` (``Class.method`` allowed)."""

    path: str
    name: str

    def __str__(self) -> str:
        return f"{self.path}: {self.name}"


@dataclass(frozen=True)
class Practice:
    clause: str
    features: tuple[str, ...]
    routes: tuple[str, ...]
    code: tuple[CodeRef, ...]
    tests: tuple[str, ...]  # pytest node ids, without parameters

    @property
    def modules(self) -> list[str]:
        """The files holding the code, in first-mention order."""
        return list(dict.fromkeys(ref.path for ref in self.code))


def refs(path: str, *names: str) -> tuple[CodeRef, ...]:
    return tuple(CodeRef(path, name) for name in names)


EVIDENCE = "tests/test_policy_evidence.py"
FIGURES = "tests/test_policy_figures.py"
CHOICE = "tests/test_consent_choice.py"
PROOF = "tests/test_address_proof.py"
TOUR = "tests/browser/test_tour.py::test_a_reviewer_walks_the_whole_tour"
MINIMISATION = "tests/test_ip_minimisation.py"
REVISIONS = "tests/test_policy_revisions.py"
ONCE = "tests/test_forms_once.py"

PRACTICES: dict[str, Practice] = {
    p.clause: p
    for p in [
        Practice(
            "collect-ip",
            features=(
                "One visit row per page request: time, IP address, domain, method, path, status, "
                "user agent, referrer, visitor id",
                "Reverse DNS off the request path, kept as confirmed only when the forward lookup matches",
                "Visit log export in Apache combined format (flask visits export)",
                "Full IP addresses kept IP_RETENTION_DAYS, then cut to their network (IPv4 /24, IPv6 /48) "
                "by flask visits purge in visits, submissions, newsletter confirmations and the dashboard's daily "
                "figures; with 0, stored cut "
                "from the start; exports write addresses past the period cut even before the purge runs",
            ),
            routes=("/privacy", "/my-data"),
            code=(
                *refs("webshop/visits/identity.py", "identify_visitor", "current_identity"),
                *refs("webshop/visits/record.py", "finish_visit"),
                *refs("webshop/visits/rdns.py", "DomainResolver.resolve"),
                *refs("webshop/visits/writer.py", "VisitWriter"),
                *refs("webshop/privacy/evidence.py", "this_request", "recent_visits"),
                *refs("webshop/shorten.py", "truncated_ip", "stored_ip"),
                *refs("webshop/visits/cli.py", "purge_command", "truncate_addresses", "exported_ip"),
                *refs("webshop/visits/daily.py", "forget_identities", "shorten_addresses"),
                *refs("webshop/policy_text.py", "ip_retention_text"),
            ),
            tests=(
                "tests/test_visits.py::test_each_page_request_records_one_row_with_what_was_asked",
                "tests/test_visits_rdns.py::test_forward_confirmed_name_is_filled_into_the_visit",
                "tests/test_visits_rdns.py::test_name_whose_forward_lookup_does_not_match_is_kept_unconfirmed",
                "tests/test_proxy.py::test_recorded_ip_is_the_real_source_address_not_a_forged_header",
                f"{EVIDENCE}::test_collect_ip_panel_shows_the_address_of_this_request_and_its_stored_visits",
                f"{EVIDENCE}::TestWithReverseDNS::test_collect_ip_panel_shows_the_domain_and_whether_it_is_confirmed",
                f"{MINIMISATION}::test_purge_shortens_addresses_older_than_the_ip_retention_period_and_keeps_newer_ones",
                f"{MINIMISATION}::test_purge_reads_due_rows_in_batches_and_leaves_unreadable_values_unknown",
                f"{MINIMISATION}::test_with_zero_days_purge_shortens_every_address_and_new_rows_are_stored_shortened",
                f"{MINIMISATION}::test_with_zero_days_the_domain_is_still_looked_up_by_the_full_address",
                f"{MINIMISATION}::test_visit_export_writes_addresses_past_the_retention_period_shortened_before_any_purge",
                f"{MINIMISATION}::test_goaccess_reads_every_shortened_host_field",
                "tests/test_daily_figures.py::test_the_purge_shortens_archived_addresses_as_it_shortens_the_visits",
                "tests/test_daily_figures.py::"
                "test_the_purge_keeps_the_daily_counts_and_no_visitor_id_or_address_of_the_days_it_reached",
                f"{MINIMISATION}::test_policy_states_the_configured_ip_retention",
                TOUR,
            ),
        ),
        Practice(
            "combine",
            features=(
                "Every submission stores the IP address, domain and visitor id of the request that carried it",
                "Staff see a visitor profile joining visits and submissions through the visitor id",
            ),
            routes=("/privacy", "/admin/visitors/<visitor_id>", "/my-data/email/visits/<visitor_id>"),
            code=(
                *refs("webshop/submissions.py", "record_submission"),
                *refs("webshop/staff/visitlog.py", "visitor_profile"),
                *refs("webshop/privacy/holdings.py", "trails_for"),
                *refs("webshop/privacy/evidence.py", "browser_submissions"),
            ),
            tests=(
                "tests/test_forms_common.py::test_ip_and_visitor_id_of_the_request_are_stored_and_on_the_receipt",
                "tests/test_staff_dashboard.py::test_visitor_profile_combines_visits_addresses_and_submissions",
                f"{EVIDENCE}::test_combine_and_opt_out_panels_show_this_browsers_submission_and_its_choice",
                TOUR,
            ),
        ),
        Practice(
            "where-submitted",
            features=(
                "Seven forms on one mechanism: newsletter, survey, product registration, order, "
                "bulletin board, chat, contact",
                "Each time a form is filled in it is stored once, however often it is sent: its page carries "
                "a signed, single-use token, and a form sent again gets the first submission's confirmation",
                "A form's token works only in the browser session that opened the form: sent from another, "
                "it stores nothing and shows nothing of the first submission",
            ),
            routes=FORM_ROUTES,
            code=(
                *refs("webshop/submissions.py", "PersonalDataForm", "record_submission", "commit_mail_and_redirect"),
                *refs("webshop/submissions.py", "SubmissionTokenField", "session_binding", "answer_resend"),
                *refs("webshop/newsletter.py", "signup"),
                *refs("webshop/survey.py", "survey"),
                *refs("webshop/registration.py", "register"),
                *refs("webshop/checkout.py", "checkout"),
                *refs("webshop/board.py", "board"),
                *refs("webshop/chat.py", "chat"),
                *refs("webshop/contact.py", "contact"),
                *refs("webshop/privacy/evidence.py", "form_counts"),
                *refs("webshop/stats.py", "opt_outs_held"),
            ),
            tests=(
                "tests/test_forms_common.py::test_happy_path_stores_the_submission_and_links_its_receipt",
                "tests/test_receipts.py::test_every_form_has_a_receipt_page",
                f"{EVIDENCE}::test_form_counts_match_the_rows_in_the_table",
                f"{FIGURES}::test_a_submission_moves_the_policy_pages_figures_and_its_erasure_takes_it_out_again",
                f"{FIGURES}::test_the_tallies_equal_a_live_count_after_a_mix_of_actions",
                f"{ONCE}::test_a_form_sent_again_after_its_answer_was_lost_is_stored_once",
                f"{ONCE}::test_two_sends_of_one_form_at_once_store_one_submission",
                f"{ONCE}::test_a_missing_forged_or_old_token_stores_nothing_and_keeps_what_was_typed",
                f"{ONCE}::test_a_used_token_sent_from_another_browser_is_refused_and_shows_nothing_of_the_first",
            ),
        ),
        Practice(
            "cookies",
            features=(
                "The cart is a signed cookie holding product ids and quantities only",
                "One registry of every cookie, read by the policy, your data and the code that sets cookies",
                "Every cookie this browser holds, decoded",
                "The consent cookie holds only the choice (accept or decline) and its policy version",
            ),
            routes=("/privacy", "/my-data", "/cart/add"),
            code=(
                *refs("webshop/cookies.py", "REGISTRY", "read", "write"),
                *refs("webshop/cart.py", "Cart.payload", "open_cart", "save_cart"),
                *refs("webshop/privacy/cookie_page.py", "cookie_reports"),
            ),
            tests=(
                "tests/test_cart.py::test_adding_puts_ids_and_quantities_in_a_signed_cookie",
                "tests/test_cookie_bearer.py::test_the_pages_say_the_cookie_is_a_key",
                "tests/test_cart.py::test_payload_holds_no_prices_or_personal_data",
                "tests/test_shop.py::test_the_cookies_real_responses_set_are_the_registered_ones_with_their_lifetimes",
                "tests/test_my_data.py::test_this_browser_shows_stored_ip_and_every_registered_cookie_decoded",
                f"{EVIDENCE}::test_cookies_panel_decodes_the_cart_after_adding_an_item",
                f"{CHOICE}::test_a_malformed_consent_cookie_shows_the_banner_again",
                f"{CHOICE}::test_an_old_cookie_holding_a_version_reads_as_accept",
                TOUR,
            ),
        ),
        Practice(
            "uses",
            features=(
                "Staff dashboard: visits over time, top domains and pages, funnel, opt-out rates",
                'The "popular now" shelf ranked from product-page visits',
                "Site-update notices mailed to confirmed subscribers who did not opt out of marketing, chose the "
                '"site-updates" topic and have not paused mail',
                "A newsletter preference centre linked from every mail: topics in place, pause, unsubscribe, "
                "and when and from which IP the subscription was confirmed",
            ),
            routes=("/", "/admin/", "/admin/notices"),
            code=(
                *refs("webshop/staff/dashboard.py", "visit_figures", "opt_out_rates"),
                *refs("webshop/visits/daily.py", "period_figures", "archive_day", "archive_today"),
                *refs("webshop/stats.py", "opt_outs_between"),
                *refs("webshop/popular.py", "rank_products", "popular_now"),
                *refs("webshop/rules.py", "notice_audience", "mail_audience", "chose_topic"),
                *refs("webshop/staff/notices.py", "send_batch"),
                *refs("webshop/newsletter.py", "preferences", "change_topics", "pause"),
                *refs("webshop/privacy/evidence.py", "usage"),
            ),
            tests=(
                "tests/test_staff_dashboard.py::test_dashboard_numbers_match_the_hand_count",
                "tests/test_daily_figures.py::test_archived_days_show_the_same_figures_as_their_visits",
                "tests/test_daily_figures.py::test_today_is_archived_up_to_the_hour_and_shows_what_its_visits_show",
                "tests/test_dashboard_opt_outs.py::test_the_opt_out_rates_of_a_period_follow_every_change_to_its_submissions",
                "tests/test_staff_dashboard.py::test_popular_shelf_ranks_recent_product_visits_without_blocking_ones",
                "tests/test_staff_notices.py::TestThroughSMTP::test_notice_reaches_exactly_the_allowed_subscribers_once",
                "tests/test_newsletter_preferences.py::TestNotices::"
                "test_notices_reach_only_unpaused_subscribers_who_chose_site_updates",
                "tests/test_newsletter_preferences.py::TestNotices::"
                "test_topics_changed_on_the_page_take_effect_for_the_next_notice",
                "tests/test_newsletter_preferences.py::test_confirmation_records_time_and_ip_and_links_the_preference_centre",
                f"{EVIDENCE}::TestWithoutVisitRecording::test_uses_panel_numbers_match_the_rows_in_the_tables",
            ),
        ),
        Practice(
            "sharing",
            features=(
                "Default-deny marketing export per recipient",
                "Only submissions whose sender proved the address are shared or mailed: a newsletter signup "
                "once its own confirmation link is followed, any other form only when the browser that sent it "
                'opened "your data" for that address; survey, registration and other addresses are '
                "otherwise never shared",
                "A sharing ledger entry for every export, naming exactly which submissions went where",
                "The policy page shows an address's subscription and preferences only to its your-data session",
            ),
            routes=("/admin/export", "/admin/ledger", "/admin/recipients"),
            code=(
                *refs("webshop/rules.py", "SHARING", "shareable_submissions"),
                *refs("webshop/proof.py", "session_proof", "prove_browser_submissions"),
                *refs("webshop/ledger.py", "record_export", "ledger_for"),
                *refs("webshop/newsletter.py", "confirm_post"),
                *refs("webshop/staff/export.py", "run_export"),
                *refs("webshop/privacy/evidence.py", "sharing_summary", "verdicts"),
            ),
            tests=(
                "tests/test_staff_export.py::test_no_export_ever_holds_a_record_an_exclusion_rule_covers",
                "tests/test_staff_export.py::test_web_export_writes_one_exact_ledger_entry_and_an_audit_line",
                f"{PROOF}::TestSharingNeedsProofOfThatSubmission::test_a_stranger_cannot_make_a_confirmed_address_shareable",
                f"{PROOF}::TestSharingNeedsProofOfThatSubmission::test_a_later_signup_is_pending_until_its_own_link_is_followed",
                f"{PROOF}::test_the_policy_page_tells_a_stranger_nothing_about_another_address",
                f"{EVIDENCE}::test_sharing_panel_counts_the_ledger_and_names_the_recipients",
                f"{EVIDENCE}::test_tour_shows_why_this_browsers_signup_would_be_left_out_of_exports",
            ),
        ),
        Practice(
            "opt-out",
            features=(
                'Two unticked boxes on every personal-information form: "don\'t use this for marketing" '
                'and "don\'t share this with other organisations"',
                "The choice is stored on that submission alone",
            ),
            routes=FORM_ROUTES,
            code=(
                *refs("webshop/submissions.py", "PersonalDataForm", "record_submission"),
                *refs("webshop/rules.py", "shareable_submissions", "marketable_submissions"),
                *refs("webshop/privacy/evidence.py", "form_counts", "verdicts"),
                *refs("webshop/stats.py", "opt_outs_held"),
            ),
            tests=(
                "tests/test_forms_common.py::test_form_shows_two_unticked_opt_out_boxes_labelled_marketing_and_share",
                "tests/test_forms_common.py::test_opt_outs_belong_to_each_submission_alone",
                "tests/test_checkout.py::test_opt_out_boxes_are_unticked_by_default_and_stored_with_the_order",
                f"{EVIDENCE}::test_combine_and_opt_out_panels_show_this_browsers_submission_and_its_choice",
                f"{EVIDENCE}::test_form_counts_match_the_rows_in_the_table",
                f"{FIGURES}::test_the_tallies_equal_a_live_count_after_a_mix_of_actions",
                TOUR,
            ),
        ),
        Practice(
            "other-sources",
            features=(
                '"Your data" shows every record under an address, from every form, each with its own choices',
                "Visits, request details and receipts join an address only through submissions whose sender "
                "proved it; a stranger who typed the address is not shown to its owner",
            ),
            routes=("/my-data", "/my-data/email"),
            code=(
                *refs("webshop/privacy/holdings.py", "everything_under"),
                *refs("webshop/privacy/my_data.py", "everything"),
                *refs("webshop/privacy/evidence.py", "other_sources"),
            ),
            tests=(
                "tests/test_my_data.py::test_the_link_shows_every_submission_of_every_kind_with_its_details",
                "tests/test_my_data.py::test_each_submission_shows_its_own_choices",
                "tests/test_my_data.py::test_turning_sharing_back_on_never_overrides_a_box_ticked_on_a_form",
                f"{EVIDENCE}::test_other_sources_figure_moves_the_same_for_a_known_and_a_new_address",
                f"{PROOF}::test_a_strangers_visits_never_join_the_address_they_typed",
            ),
        ),
        Practice(
            "access",
            features=(
                "This browser at once: stored IP, domain, visits and decoded cookies; behind the cookie alone, "
                "IP addresses as their network and no typed text",
                "Everything under an address after a single-use mailed link: see, correct, "
                "set preferences, download, erase",
                "Forget this browser without an email: download what its visitor cookie links to, or erase it "
                "after a confirmation, cookies included",
            ),
            routes=(
                "/my-data",
                "/my-data/browser.json",
                "/my-data/browser/forget",
                "/my-data/browser/forget/confirm",
                "/my-data/link",
                "/my-data/email",
                "/my-data/email/details",
                "/my-data/email/preferences",
                "/my-data/email/download",
                "/my-data/email/erase",
            ),
            code=(
                *refs(
                    "webshop/privacy/my_data.py",
                    "overview",
                    "send_access_link",
                    "open_link_post",
                    "correct_details",
                    "preferences",
                    "download",
                    "erase",
                    "forget_browser",
                    "forget_browser_confirm",
                    "browser_download",
                ),
                *refs("webshop/privacy/holdings.py", "everything_under", "export", "erase", "forget_browser"),
                *refs("webshop/visits/daily.py", "recounted"),
                *refs("webshop/links.py", "load", "use", "current_grant"),
            ),
            tests=(
                "tests/test_my_data.py::test_known_and_unknown_addresses_get_the_identical_answer",
                "tests/test_my_data.py::test_moving_to_someone_elses_address_never_shows_their_records",
                "tests/test_cookie_bearer.py::test_copied_cookies_show_no_full_ip_and_no_typed_text",
                "tests/test_cookie_bearer.py::test_with_the_mailed_link_the_full_record_is_there",
                "tests/test_my_data.py::test_name_and_postal_address_are_corrected_and_the_change_audited",
                "tests/test_my_data.py::test_download_is_one_json_document_with_everything_and_the_receipts",
                "tests/test_my_data.py::test_erasure_removes_everything_under_the_address_and_keeps_orders_anonymised",
                "tests/test_erasure_server.py::test_after_erasure_no_file_under_instance_holds_the_person",
                "tests/test_daily_figures.py::"
                "test_an_erased_visitor_leaves_every_figure_of_archived_days_and_every_archive_table",
                "tests/browser/test_my_data_flow.py::test_from_forms_to_the_mailed_link_to_download_and_erasure",
                f"{EVIDENCE}::test_access_clause_links_to_your_data_and_the_page_to_the_tour",
                f"{CHOICE}::test_forgetting_needs_the_confirmation_and_erases_only_this_browser",
                f"{CHOICE}::test_forgotten_values_are_gone_from_the_database_file_spools_and_outbox",
                f"{CHOICE}::test_the_browser_download_holds_this_browser_only",
                "tests/browser/test_consent_choice.py::test_forget_this_browser_end_to_end",
                TOUR,
            ),
        ),
        Practice(
            "consent",
            features=(
                "A consent banner with two equal buttons, accept and decline, remembered per policy version",
                "The choice can be changed at any time on your data and the policy page; every decision is kept "
                "in a consent log the browser can see, and declining after accepting withdraws",
                "The policy's revisions kept as data; a returning visitor's banner lists what changed since "
                "the version they acknowledged, and /privacy shows the whole history",
                "A consent line beside every submit button",
                "A consent receipt (Kantara v1.1 fields) for every submission, as a page, JSON and mail",
                "Receipts frozen when given, never holding a full IP address, with their status "
                "(ACTIVE / REVOKED) beside them",
                "Receipts signed as a compact JWS (EdDSA), verifiable offline with the keys at "
                "/.well-known/jwks.json, old keys included",
            ),
            routes=(
                "/consent",
                "/receipt/<uuid:receipt_id>",
                "/receipt/<uuid:receipt_id>.json",
                "/receipt/<uuid:receipt_id>.jwt",
                "/.well-known/jwks.json",
            ),
            code=(
                *refs("webshop/consent.py", "read_signals", "read_choice", "choose", "withdraw"),
                *refs("webshop/rules.py", "WITHDRAWN"),
                *refs("webshop/staff/dashboard.py", "consent_totals"),
                *refs("webshop/submissions.py", "build_receipt", "stored_receipt", "receipt_status", "receipt_message"),
                *refs("webshop/receipt_signatures.py", "ReceiptSigner", "verify", "load_signer"),
                *refs("webshop/privacy/evidence.py", "consent_state"),
                *refs("webshop/policy_text.py", "PolicyRevision", "changes_since"),
            ),
            tests=(
                "tests/test_security.py::test_consent_banner_shows_until_acknowledged_and_returns_to_the_page",
                "tests/test_security.py::test_new_policy_version_shows_the_banner_again",
                "tests/test_forms_common.py::test_consent_line_beside_the_submit_button_links_to_a_policy_clause",
                "tests/test_receipts.py::test_receipt_json_has_the_kantara_fields",
                "tests/test_receipts.py::test_receipt_answers_the_same_bytes_after_the_store_changes_and_restarts",
                "tests/test_receipts.py::test_withdrawal_revokes_the_receipt_and_leaves_the_document",
                "tests/test_receipts.py::test_erasure_on_your_data_removes_the_document_and_the_receipt_answers_410",
                "tests/test_receipts.py::test_the_stored_receipt_holds_the_network_never_the_full_address",
                "tests/test_receipt_signatures.py::test_the_token_verifies_against_the_served_keys_and_carries_the_json_bytes",
                "tests/test_receipt_signatures.py::test_one_character_changed_anywhere_fails_verification",
                "tests/test_receipt_signatures.py::test_after_rotation_old_tokens_still_verify_and_both_keys_are_published",
                f"{EVIDENCE}::test_consent_panel_compares_the_acknowledged_version_with_the_current_one",
                f"{CHOICE}::test_banner_offers_accept_and_decline_as_equal_buttons",
                f"{CHOICE}::test_accept_gives_the_visitor_id_in_the_same_response_and_logs_it",
                f"{CHOICE}::test_a_bad_choice_is_a_clean_400",
                f"{CHOICE}::test_declining_after_accepting_withdraws_earlier_submissions_and_the_ledger_says_so",
                f"{CHOICE}::test_my_data_shows_the_choice_switches_it_and_lists_the_log",
                f"{CHOICE}::test_the_policy_page_shows_the_choice_with_one_switch",
                f"{CHOICE}::test_the_dashboard_counts_decisions_per_day",
                "tests/browser/test_consent_choice.py::test_decline_then_switch_to_accept_on_your_data",
                f"{REVISIONS}::test_a_visitor_two_versions_behind_sees_what_changed_in_both_newer_revisions_only",
                f"{REVISIONS}::test_a_signed_version_the_changelog_does_not_know_sees_every_revision",
                f"{REVISIONS}::test_privacy_lists_every_revision_with_its_date_and_changes_and_marks_the_current_one",
                TOUR,
            ),
        ),
        Practice(
            "blocking",
            features=(
                "Sec-GPC: 1 and DNT: 1 honoured: the visit is counted without IP, domain or visitor id, "
                'no visitor cookie is set, submissions are kept as "don\'t share"',
                "A decline on the banner counts as a blocking signal",
                "A blocking signal from a browser that still holds a visitor id withdraws its consent, once",
                "/.well-known/gpc.json served",
                "The shop works with cookies refused and says what needs them",
            ),
            routes=("/.well-known/gpc.json", "/privacy"),
            code=(
                *refs("webshop/consent.py", "header_says_one", "read_signals", "withdraw_on_signal"),
                *refs("webshop/visits/identity.py", "identify_visitor", "issue_visitor_cookie"),
                *refs("webshop/visits/record.py", "finish_visit"),
                *refs("webshop/submissions.py", "record_submission"),
                *refs("webshop/visits/routes.py", "gpc_statement"),
            ),
            tests=(
                "tests/test_visits.py::test_blocking_signal_leaves_no_ip_domain_or_visitor_id",
                "tests/test_visits.py::test_well_known_gpc_json",
                "tests/test_forms_common.py::test_blocking_signal_forces_dont_share_and_keeps_no_ip",
                "tests/test_visits_rdns.py::test_blocking_signal_starts_no_lookup",
                f"{CHOICE}::test_decline_keeps_no_visitor_cookie_no_ip_and_marks_submissions_dont_share",
                f"{CHOICE}::test_a_blocking_signal_after_the_fact_withdraws_once_and_deletes_the_visitor_cookie",
                f"{CHOICE}::test_ordinary_requests_write_nothing_to_the_consent_log",
                "tests/browser/test_shopping.py::test_shop_says_plainly_what_needs_cookies_when_they_are_refused",
                f"{EVIDENCE}::test_with_gpc_the_blocking_panel_says_so_and_no_ip_is_stored",
                TOUR,
            ),
        ),
        Practice(
            "contact",
            features=("Contact email and postal address on the policy page and in the footer", "A contact form"),
            routes=("/contact", "/privacy"),
            code=(
                *refs("webshop/contact.py", "ContactForm", "contact"),
                *refs("webshop/config.py", "DEFAULTS"),
            ),
            tests=(
                "tests/test_config.py::test_store_details_appear_in_the_footer",
                f"{EVIDENCE}::test_contact_panel_shows_the_configured_details_and_the_form",
            ),
        ),
    ]
}

SIGNALS = {
    "gpc": "/.well-known/gpc.json",
    "practiceMap": "/privacy/practice.json",
    "tour": "/privacy/tour",
}


def as_json() -> dict:
    """The map as served at ``/privacy/practice.json``."""
    return {
        "policyVersion": POLICY_VERSION,
        "policyUrl": "/privacy",
        "signals": SIGNALS,
        "clauses": {
            clause: {
                "anchor": f"/privacy#{clause}",
                "features": list(p.features),
                "routes": list(p.routes),
                "modules": p.modules,
                "code": [str(ref) for ref in p.code],
                "tests": list(p.tests),
            }
            for clause, p in PRACTICES.items()
        },
    }
