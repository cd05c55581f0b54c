"""The AWS side of local mode: the SAM stack rebuilt in moto, Lambda handlers dispatched in-process."""

from __future__ import annotations

from simulator.local_aws.cfn_template import SamTemplate, TemplateError, load_cfn_yaml
from simulator.local_aws.lambda_dispatch import InProcessLambdas, LambdaContext, load_handler
from simulator.local_aws.stack import LambdaInvokeError, LocalAwsStack, scale_seconds

__all__ = [
    "InProcessLambdas",
    "LambdaContext",
    "LambdaInvokeError",
    "LocalAwsStack",
    "SamTemplate",
    "TemplateError",
    "load_cfn_yaml",
    "load_handler",
    "scale_seconds",
]
