/** journal.sh run locally, with a stand-in journalctl. */
import { describe, expect, it } from "vitest";
import { sandboxPerTest } from "./run.js";

describe("journal.sh", () => {
  const box = sandboxPerTest();

  it("prints each unit's marker and its last 50 journal lines", () => {
    box.stub(
      "journalctl",
      `[ "$1 $3 $4 $5" = "-u -n 50 --no-pager" ] || exit 1; echo "$2 started"; echo "$2 crashed"`,
    );
    const result = box.run("journal", "nix-deploy-journal", ["nginx.service", "postgresql"]);
    expect(result).toMatchObject({
      stdout:
        "@@nginx.service\nnginx.service started\nnginx.service crashed\n@@postgresql\npostgresql started\npostgresql crashed\n",
      status: 0,
    });
  });

  it("an unreadable journal leaves only the markers; no units, nothing", () => {
    box.stub("journalctl", "echo 'no access' >&2; exit 1");
    expect(box.run("journal", "nix-deploy-journal", ["nginx"])).toMatchObject({
      stdout: "@@nginx\n",
      status: 0,
    });
    expect(box.run("journal", "nix-deploy-journal")).toMatchObject({ stdout: "", status: 0 });
  });
});
