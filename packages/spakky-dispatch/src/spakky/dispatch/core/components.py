"""The core's pods, as a transport plugin adds them."""

from spakky.core.pod.annotations.pod import PodType

from spakky.dispatch.core.dispatcher import TaskDispatcher
from spakky.dispatch.core.invoker import TaskInvoker
from spakky.dispatch.core.propagation import HeaderPropagation
from spakky.dispatch.core.registrar import TaskRegistrar
from spakky.dispatch.core.registry import TaskRegistry

CORE_COMPONENTS: tuple[PodType, ...] = (
    TaskRegistry,
    HeaderPropagation,
    TaskDispatcher,
    TaskInvoker,
    TaskRegistrar,
)
"""Every pod of the core; a plugin adds them all, plus its transport's ports."""
