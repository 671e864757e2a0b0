#pragma once
// The umbrella header: everything corio offers.

#include <corio/runtime/backend.hpp>
#include <corio/runtime/cancel.hpp>
#include <corio/runtime/clock.hpp>
#include <corio/runtime/log.hpp>
#include <corio/runtime/loop.hpp>
#include <corio/runtime/op.hpp>
#include <corio/runtime/ops.hpp>
#include <corio/runtime/result.hpp>
#include <corio/runtime/task.hpp>
#include <corio/runtime/task_group.hpp>
#include <corio/runtime/timer.hpp>
#include <corio/runtime/when_all.hpp>
#include <corio/runtime/when_any.hpp>
#include <corio/fs/result.hpp>
#include <corio/fs/ops.hpp>
#include <corio/fs/file.hpp>
#include <corio/fs/dir.hpp>
#include <corio/net/address.hpp>
#include <corio/net/buf_ring.hpp>
#include <corio/net/buffered.hpp>
#include <corio/net/resolve.hpp>
#include <corio/net/tcp.hpp>
#include <corio/net/udp.hpp>
#include <corio/net/unix.hpp>
