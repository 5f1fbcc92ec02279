"""Gateway API v1 (gateway.networking.k8s.io): GatewayClass, Gateway, HTTPRoute, ReferenceGrant.

Pure, like the rest of grader.model: objects in, verdicts and traces out.
- `attachment`: which routes attach to which listeners, and every status condition a controller
  writes (Accepted / ResolvedRefs / PartiallyInvalid on routes; Accepted / ResolvedRefs / Conflicted /
  Programmed on listeners), with the spec's reasons.
- `routing`: one request through a Gateway: listener, hostname, match precedence, filters, weights.
- `validation`: what the API server refuses (CRD schema and CEL rules), for the manifest loader.
- `hostnames`: matching and intersection of Gateway API host names.
"""

from grader.model.gateway.attachment import (
    COURSE_GATEWAY_CLASS,
    Condition,
    GatewayState,
    RouteState,
    analyze,
    course_gateway_class,
    reference_granted,
)
from grader.model.gateway.routing import Decision, Request, Share, route_request
from grader.model.gateway.validation import gateway_api_problems

__all__ = [
    "COURSE_GATEWAY_CLASS", "Condition", "Decision", "GatewayState", "Request", "RouteState", "Share",
    "analyze", "course_gateway_class", "gateway_api_problems", "reference_granted", "route_request",
]
