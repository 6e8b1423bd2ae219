/* base: the lowest module. Everything else may include this header. It is
 * libc only: JSON (base/json.h, over jansson) is included by the files
 * that use it, and linked through jansson_dep, so ocimon and the modules
 * it links (ev, proc, mon) never see jansson. */
#pragma once

#include "base/cleanup.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/id.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/toml.h"
