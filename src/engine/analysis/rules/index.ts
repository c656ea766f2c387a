/**
 * Anti-pattern rules: statix's lints, deadnix's unused bindings and NixOS-specific mistakes.
 * Codes are stable names (they appear in suppressions and configuration). An auto-fix is offered
 * only where it keeps the meaning; the fix tests check that each one still parses and silences
 * its rule.
 */

import {
  collapsibleLetIn,
  emptyInherit,
  emptyLetIn,
  emptyPattern,
  legacyLet,
  manualInherit,
  manualInheritFrom,
  redundantPatternBind,
  repeatedKeys,
  unusedBinding,
} from "./bindings.js";
import type { Rule } from "./define.js";
import {
  boolComparison,
  boolSimplification,
  deprecatedToPath,
  emptyListConcat,
  etaReduction,
  unquotedUri,
  uselessHasAttr,
  uselessParens,
} from "./expressions.js";
import { lookupPath, mkIfConstant, topLevelWithPkgs, updateWithMkIf } from "./nixos.js";
import { hardcodedStorePath, plainPassword, secretInStore } from "./secrets.js";

export const ANTIPATTERN_RULES: Rule[] = [
  boolComparison,
  emptyLetIn,
  manualInherit,
  manualInheritFrom,
  legacyLet,
  collapsibleLetIn,
  etaReduction,
  uselessParens,
  emptyPattern,
  redundantPatternBind,
  unquotedUri,
  emptyInherit,
  deprecatedToPath,
  boolSimplification,
  uselessHasAttr,
  repeatedKeys,
  emptyListConcat,
  unusedBinding,
  mkIfConstant,
  updateWithMkIf,
  topLevelWithPkgs,
  lookupPath,
  secretInStore,
  plainPassword,
  hardcodedStorePath,
];

/** Every code a rule can report (some rules report more than one). */
export const ANTIPATTERN_CODES = [
  ...ANTIPATTERN_RULES.map((r) => r.code).filter((c) => c !== "mkif-constant"),
  "mkif-true",
  "mkif-false",
  "import-nixpkgs",
  "secret-path-in-store",
];
