"""One compile of each URL builder for the whole run, instead of one per app.

The suite builds a new app for nearly every test, a few thousand in a run,
each with the same eighty-odd rules, and Werkzeug compiles two URL builder
functions (Python source generated and compiled) for every rule of every
app: most of ``create_app``'s time. A builder depends only on the rule's
text, its parsed parts and whether unknown arguments are appended; it
reaches the rule's converters through the rule it is bound to, at call
time. So the suite compiles each builder once and binds the same function
to every app's rule, exactly as Werkzeug binds a fresh one. Rules with
defaults (whose builder has a default's converted value folded in) are
compiled as usual.

The shop itself is unchanged: gunicorn workers, the CLI and benchmarks build
their one app as Werkzeug does. If Werkzeug's private ``_compile_builder``
is gone in a later release, nothing is cached and the suite is only slower.
"""

from werkzeug.routing.rules import Rule

_compiled: dict[tuple, object] = {}


def install() -> None:
    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None or getattr(compile_builder, "shared", False):
        return

    def shared_builder(rule: Rule, append_unknown: bool = True):
        if rule.defaults:
            return compile_builder(rule, append_unknown)
        key = (rule.rule, tuple(rule._trace), append_unknown)
        builder = _compiled.get(key)
        if builder is None:
            builder = _compiled[key] = compile_builder(rule, append_unknown)
        return builder

    shared_builder.shared = True
    Rule._compile_builder = shared_builder
