// The check the node client scripts share: prints "ok <what>" when `actual` equals
// `expected` (as JSON), else "FAILED <what>: ..." and exits 1.
'use strict';

module.exports = function check(what, actual, expected) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) {
    console.log(`FAILED ${what}: got ${a}, expected ${e}`);
    process.exit(1);
  }
  console.log(`ok ${what}`);
};
