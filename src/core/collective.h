// Kinds of collective communication between GPUs.
#pragma once

namespace roofplan {

enum class Collective { kNone, kAllReduce, kAllGather, kAllToAll, kSendRecv };

}  // namespace roofplan
