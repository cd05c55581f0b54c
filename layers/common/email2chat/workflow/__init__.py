"""The upgrade workflow: one module per step of the guide.

Each step is a function ``step(event, runtime) -> dict`` called by a thin Lambda handler
(``functions/<step>/app.py``). The event is the state machine's state document (see ``case.py``);
the result is what the ASL stores under the step's ``ResultPath``. Errors are typed: their class
names are the ASL error names the state machine retries and catches.
"""
