// The shared part of the access methods' IndexAmRoutine (am_routine.h).
#include "common/am_routine.h"

extern "C" {
#include "commands/vacuum.h"
}

static bool ValidateOpclass(Oid opclassoid) {
    (void)opclassoid;  // the install script defines the only operator classes
    return true;
}

IndexAmRoutine *gv_am_routine(void) {
    IndexAmRoutine *am = makeNode(IndexAmRoutine);
    am->amstrategies = 0;
    am->amsupport = 2;
    am->amoptsprocnum = 0;
    am->amcanorder = false;
    am->amcanorderbyop = true;
    am->amcanbackward = false;
    am->amcanunique = false;
    am->amcanmulticol = false;
    am->amoptionalkey = true;
    am->amsearcharray = false;
    am->amsearchnulls = false;
    am->amstorage = false;
    am->amclusterable = false;
    am->ampredlocks = false;
    am->amcanparallel = false;
    am->amcaninclude = false;
    am->amusemaintenanceworkmem = false;
    am->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
    am->amkeytype = InvalidOid;
    am->amcanreturn = NULL;
    am->amproperty = NULL;
    am->amvalidate = ValidateOpclass;
    am->amadjustmembers = NULL;
    am->amgetbitmap = NULL;
    am->ammarkpos = NULL;
    am->amrestrpos = NULL;
    am->amestimateparallelscan = NULL;
    am->aminitparallelscan = NULL;
    am->amparallelrescan = NULL;
    return am;
}
