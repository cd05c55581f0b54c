"""email2chat: upgrade urgent Genesys Cloud emails to live chat.

The library behind every Lambda handler, the local runner and the tests. Modules by concept:
``genesys`` (the Genesys Cloud port and its HTTP adapter), ``classifier`` (urgency decision),
``state`` (DynamoDB lock, circuit breaker, token bucket, outcomes), ``mapping`` (email -> chat
attributes), ``workflow`` (one module per step of the guide), ``config``, ``clock``, ``errors``.
"""

__version__ = "0.1.0"
