// Kinds of collective communication between GPUs.
#pragma once

namespace roofplan {

enum class Collective { kNone, kAllReduce, kAllGather, kReduceScatter, kAllToAll, kSendRecv };

}  // namespace roofplan
