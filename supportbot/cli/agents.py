"""`supportbot agents add|list|disable`: the people who answer customers in the console.

Works on the conversation log file directly (creating the agents' tables when needed), so
it needs no running server; a disabled agent is refused on their next request.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from supportbot.cli.arguments import DB_HELP, DEFAULT_DB
from supportbot.errors import SupportbotError


def register(commands: argparse._SubParsersAction) -> None:
    agents = commands.add_parser("agents", help="add, list or disable agent accounts")
    actions = agents.add_subparsers(dest="agents_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create an account; prints its one-time secret last")
    add.add_argument("name", help="login name: lower-case letters, digits, '-' or '_'")
    add.add_argument("--role", choices=("agent", "admin"), default="agent")
    add.add_argument("--display-name", help="the name customers see (default: NAME)")
    add.add_argument("--db", default=DEFAULT_DB, help=DB_HELP)
    listing = actions.add_parser("list", help="every account, with role and status")
    listing.add_argument("--db", default=DEFAULT_DB, help=DB_HELP)
    disable = actions.add_parser("disable", help="refuse an agent's logins and sessions")
    disable.add_argument("name")
    disable.add_argument("--db", default=DEFAULT_DB, help=DB_HELP)
    agents.set_defaults(run=run_agents)


def run_agents(args: argparse.Namespace) -> int:
    from bot.agents import accounts
    from bot.agents.tables import audit, open_agent_db

    if args.db == ":memory:" or not Path(args.db).parent.is_dir():
        raise SupportbotError(f"{args.db}: cannot keep agents in this log file")
    db = open_agent_db(args.db)
    try:
        if args.agents_command == "add":
            secret = accounts.add_agent(db, args.name, args.role, args.display_name)
            with db.atomic():
                audit(db, "cli", "agent_added", None, name=args.name, role=args.role)
            print(f"agent {args.name} ({args.role}) added; its secret is shown only once:")
            print(secret)
        elif args.agents_command == "list":
            _list(accounts.list_agents(db))
        else:
            if not accounts.disable_agent(db, args.name):
                raise SupportbotError(f"{args.db}: no agent {args.name!r}")
            with db.atomic():
                audit(db, "cli", "agent_disabled", None, name=args.name)
            print(f"agent {args.name} is disabled")
        return 0
    finally:
        db.conn.close()


def _list(agents) -> None:
    if not agents:
        print("no agents; add one with `supportbot agents add NAME`")
    for agent in agents:
        status = "disabled" if agent.disabled else "active"
        print(f"{agent.name}\t{agent.display_name}\t{agent.role}\t{status}")
