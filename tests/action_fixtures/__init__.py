"""Example custom actions, written exactly as for Rasa, for the action runner tests.

Loaded in-process by `LocalActionRunner("tests.action_fixtures")` and by a real
`python -m rasa_sdk --actions tests.action_fixtures` server.
"""
