"""In-tree plugins and upstream's default score weights (v1.32 default profile)."""
from __future__ import annotations

from .balancedallocation import BalancedAllocation
from .interpodaffinity import InterPodAffinity
from .nodeaffinity import NodeAffinity
from .nodename import NodeName
from .nodeports import NodePorts
from .noderesources import NodeResourcesFit
from .nodeunschedulable import NodeUnschedulable
from .podtopologyspread import PodTopologySpread
from .tainttoleration import TaintToleration

# Filter order as upstream's default profile runs them (cheap, decisive checks first).
FILTERS = [NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit, PodTopologySpread,
           InterPodAffinity]
# Score plugins with upstream's default weights.
SCORES = [(TaintToleration, 3), (NodeAffinity, 2), (PodTopologySpread, 2), (InterPodAffinity, 2),
          (NodeResourcesFit, 1), (BalancedAllocation, 1)]
