"""Search methods: the interface, the registry and the built-in methods.

``from nasbench_sd.methods import get_method, list_methods`` — importing this
package does not import any built-in method module (they load on first use).
"""

from nasbench_sd.methods.base import ArchParamMethod, MethodConfig, SearchContext, SearchMethod
from nasbench_sd.methods.registry import (
    ENTRY_POINT_GROUP,
    RegistryError,
    create_method,
    get_method,
    list_methods,
    register,
    unregister,
)

__all__ = [
    "ENTRY_POINT_GROUP", "ArchParamMethod", "MethodConfig", "RegistryError", "SearchContext", "SearchMethod",
    "create_method", "get_method", "list_methods", "register", "unregister",
]
