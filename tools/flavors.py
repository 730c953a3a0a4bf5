"""ZenML flavors of this project. Importing this module needs ZenML's AWS integration (the `aws` extra).

`twin_sagemaker` is ZenML's SageMaker step operator with one repair: in ZenML 0.98 the step operator reads
its cached SageMaker session before anything has set it (the orchestrator declares that attribute, the step
operator does not), so every submission fails with AttributeError. Its configuration, settings and behaviour
are otherwise ZenML's own; drop this flavor for `sagemaker` once ZenML declares the attribute.
"""

from typing import Any

from zenml.integrations.aws.flavors import SagemakerStepOperatorFlavor
from zenml.integrations.aws.step_operators import SagemakerStepOperator

from tools.stack import TWIN_STEP_OPERATOR_FLAVOR


class TwinSagemakerStepOperator(SagemakerStepOperator):
    """ZenML's SageMaker step operator, with its session cache declared."""

    _sagemaker_session: Any = None


class TwinSagemakerStepOperatorFlavor(SagemakerStepOperatorFlavor):
    """The flavor that builds `TwinSagemakerStepOperator`."""

    @property
    def name(self) -> str:
        return TWIN_STEP_OPERATOR_FLAVOR

    @property
    def display_name(self) -> str:
        return "SageMaker (LLM Twin)"

    @property
    def implementation_class(self) -> type[TwinSagemakerStepOperator]:
        return TwinSagemakerStepOperator
