"""The commands an operator runs: staff accounts and marketing recipients, each with --help and clear errors."""

import pytest

from tests.support.pages import submit
from tests.support.staff import PASSWORD, create_staff, sign_in, signed_in
from webshop.db import db
from webshop.models import LedgerEntry, Recipient, StaffSession, StaffUser

NEW_PASSWORD = "a brand new password"


def staff_names(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(db.select(StaffUser.name).order_by(StaffUser.name)))


@pytest.mark.parametrize(
    "command",
    [
        ["staff"],
        ["staff", "create"],
        ["staff", "list"],
        ["staff", "reset-password"],
        ["staff", "remove"],
        ["share"],
        ["share", "recipients"],
        ["share", "recipients", "add"],
        ["share", "recipients", "list"],
        ["share", "recipients", "remove"],
        ["share", "export"],
        ["visits"],
        ["visits", "export"],
        ["visits", "purge"],
        ["visits", "archive"],
        ["visits", "report"],
        ["backup"],
        ["init-db"],
    ],
    ids=" ".join,
)
def test_every_operator_command_explains_itself(runner, command):
    result = runner.invoke(args=[*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and len(result.output.splitlines()) >= 4


class TestStaffAccounts:
    def test_list_shows_each_account_and_its_open_sessions(self, app, runner, client):
        assert "No staff accounts yet" in runner.invoke(args=["staff", "list"]).output
        signed_in(app, client, "alice")
        create_staff(app, "bob")
        lines = runner.invoke(args=["staff", "list"]).output.splitlines()
        assert [line.split()[0] for line in lines] == ["alice", "bob"]
        assert lines[0].endswith("1 session open") and "last sign-in 20" in lines[0]
        assert lines[1].endswith("0 sessions open") and "last sign-in never" in lines[1]

    def test_reset_password_takes_the_new_one_and_signs_out_everywhere(self, app, runner, client):
        signed_in(app, client, "alice")
        assert client.get("/admin/").status_code == 200
        result = runner.invoke(args=["staff", "reset-password", "alice"], env={"WEBSHOP_STAFF_PASSWORD": NEW_PASSWORD})
        assert result.exit_code == 0, result.output
        assert "1 signed-in browser signed out" in result.output
        assert client.get("/admin/").headers["Location"].startswith("/admin/login")  # the open session ended
        assert sign_in(app.test_client(), "alice", PASSWORD).status_code == 401  # old password refused
        assert sign_in(app.test_client(), "alice", NEW_PASSWORD).status_code == 303

    def test_reset_password_prompts_twice_and_refuses_a_short_one(self, app, runner, client):
        create_staff(app, "alice")
        short = runner.invoke(args=["staff", "reset-password", "alice"], env={"WEBSHOP_STAFF_PASSWORD": "short"})
        assert short.exit_code == 1 and "at least 12 characters" in short.output
        assert sign_in(client, "alice", PASSWORD).status_code == 303  # unchanged
        prompted = runner.invoke(
            args=["staff", "reset-password", "alice"],
            input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
            env={"WEBSHOP_STAFF_PASSWORD": None},
        )
        assert prompted.exit_code == 0, prompted.output
        assert NEW_PASSWORD not in prompted.output
        assert sign_in(app.test_client(), "alice", NEW_PASSWORD).status_code == 303

    def test_remove_asks_first_then_ends_the_account_and_its_sessions(self, app, runner, client):
        signed_in(app, client, "alice")
        create_staff(app, "bob")
        kept = runner.invoke(args=["staff", "remove", "alice"], input="n\n")
        assert kept.exit_code == 1 and "Aborted" in kept.output
        assert staff_names(app) == ["alice", "bob"]
        removed = runner.invoke(args=["staff", "remove", "alice", "--yes"])
        assert removed.exit_code == 0, removed.output
        assert staff_names(app) == ["bob"]
        assert client.get("/admin/").headers["Location"].startswith("/admin/login")
        with app.app_context():
            assert db.session.scalar(db.select(db.func.count()).select_from(StaffSession)) == 0

    @pytest.mark.parametrize("command", ["reset-password", "remove"])
    def test_an_unknown_account_is_named_with_the_ones_that_exist(self, app, runner, command):
        create_staff(app, "alice")
        result = runner.invoke(
            args=["staff", command, "mallory", "--yes"] if command == "remove" else ["staff", command, "mallory"],
            env={"WEBSHOP_STAFF_PASSWORD": NEW_PASSWORD},
        )
        assert result.exit_code == 1
        assert "No staff account named 'mallory' (accounts: alice)." in result.output


class TestRecipients:
    def test_a_recipient_made_on_the_command_line_receives_an_export(self, app, runner):
        added = runner.invoke(
            args=["share", "recipients", "add", "Partner Books", "--kind", "affiliate", "--description", "Books"]
        )
        assert added.exit_code == 0, added.output
        assert "Recipient 'Partner Books' added (affiliate)." in added.output
        exported = runner.invoke(args=["share", "export", "--recipient", "Partner Books"])
        assert exported.exit_code == 0, exported.output
        assert "ledger entry" in exported.output
        listed = runner.invoke(args=["share", "recipients", "list"]).output
        assert "Partner Books (affiliate): 1 export — Books" in listed

    def test_bad_recipients_get_a_clear_message_and_nothing_is_added(self, app, runner):
        assert runner.invoke(args=["share", "recipients", "add", "Partner"]).exit_code == 0
        duplicate = runner.invoke(args=["share", "recipients", "add", "Partner"])
        assert duplicate.exit_code == 1 and "already exists" in duplicate.output
        hidden = runner.invoke(args=["share", "recipients", "add", "Part\u202ener"])
        assert hidden.exit_code == 2 and "invisible characters" in hidden.output
        blank = runner.invoke(args=["share", "recipients", "add", "   "])
        assert blank.exit_code == 2 and "give the name" in blank.output
        kind = runner.invoke(args=["share", "recipients", "add", "Other", "--kind", "friend"])
        assert kind.exit_code == 2 and "affiliate" in kind.output
        with app.app_context():
            assert list(db.session.scalars(db.select(Recipient.name))) == ["Partner"]

    def test_remove_keeps_a_recipient_the_ledger_names(self, app, runner):
        runner.invoke(args=["share", "recipients", "add", "Unused"])
        runner.invoke(args=["share", "recipients", "add", "Used"])
        runner.invoke(args=["share", "export", "--recipient", "Used"])
        refused = runner.invoke(args=["share", "recipients", "remove", "Used"])
        assert refused.exit_code == 1 and "the sharing ledger keeps them" in refused.output
        assert runner.invoke(args=["share", "recipients", "remove", "Unused"]).exit_code == 0
        missing = runner.invoke(args=["share", "recipients", "remove", "Nobody"])
        assert missing.exit_code == 1 and "No recipient named 'Nobody'" in missing.output
        with app.app_context():
            assert list(db.session.scalars(db.select(Recipient.name))) == ["Used"]
            assert db.session.scalar(db.select(db.func.count()).select_from(LedgerEntry)) == 1

    def test_the_export_page_lists_recipients_made_either_way(self, app, runner, client):
        runner.invoke(args=["share", "recipients", "add", "From the shell"])
        signed_in(app, client)
        submit(client, "/admin/recipients", {"name": "From the page", "kind": "third party", "description": ""})
        assert "From the page (third party): 0 exports" in runner.invoke(args=["share", "recipients", "list"]).output
        page = client.get("/admin/export").get_data(as_text=True)
        assert "From the shell" in page and "From the page" in page
