using System.Diagnostics;
using Artemis.Agents.Sandbox;

namespace Artemis.Agents.Tests.Sandbox;

/// <summary>The uid slots' bookkeeping and the process scan the runner relies on to leave nothing behind.</summary>
public sealed class SandboxSlotTests : IDisposable
{
    private readonly string _state = Directory.CreateTempSubdirectory("artemis-slots-").FullName;

    public void Dispose() => Directory.Delete(_state, recursive: true);

    /// <summary>Takes the one slot left free after holding every other one of this test's own state folder.</summary>
    private SandboxSlot AcquireOnly(int slot)
    {
        var folder = Directory.CreateDirectory(Path.Combine(_state, "slots")).FullName;
        var held = Enumerable.Range(0, SandboxRunner.Slots).Where(other => other != slot)
            .Select(other => new FileStream(Path.Combine(folder, $"{other}.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
            .ToList();
        try
        {
            return SandboxSlot.Acquire(_state);
        }
        finally
        {
            held.ForEach(stream => stream.Dispose());
        }
    }

    [Fact]
    public void A_slot_is_clean_only_after_its_last_job_was_seen_to_leave_nothing()
    {
        using (var first = AcquireOnly(7))
        {
            Assert.Equal(SandboxRunner.UidBase + 7, first.Uid);
            Assert.False(first.LeftClean); // never used: scan
            first.MarkInUse();
        }

        using (var afterCrash = AcquireOnly(7))
        {
            Assert.False(afterCrash.LeftClean); // a job started and was never checked: scan
            afterCrash.MarkInUse();
            afterCrash.MarkClean();
        }

        using (var next = AcquireOnly(7))
        {
            Assert.True(next.LeftClean);
            next.MarkInUse();
        }

        using var again = AcquireOnly(7);
        Assert.False(again.LeftClean);
    }

    [Fact]
    public void Every_slot_busy_is_a_clear_refusal()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_state, "slots")).FullName;
        var held = Enumerable.Range(0, SandboxRunner.Slots)
            .Select(slot => new FileStream(Path.Combine(folder, $"{slot}.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
            .ToList();
        try
        {
            var refused = Assert.Throws<Artemis.Agents.Files.ToolFailureException>(() => SandboxSlot.Acquire(_state));
            Assert.Equal("limit_exceeded", refused.Code);
        }
        finally
        {
            held.ForEach(stream => stream.Dispose());
        }
    }

    [Fact]
    public void The_process_scan_finds_a_live_process_of_a_uid_and_nothing_once_it_is_gone()
    {
        const int uid = SandboxRunner.UidBase - 17; // no slot's: no job runs as it
        using var sleeper = Process.Start(new ProcessStartInfo("setpriv", [$"--reuid={uid}", $"--regid={uid}", "--clear-groups", "sleep", "60"]))!;
        try
        {
            var deadline = Stopwatch.StartNew();
            while (!SandboxRunner.ProcessesOf(uid).Contains(sleeper.Id) && deadline.Elapsed < TimeSpan.FromSeconds(10))
            {
                Thread.Sleep(20);
            }

            Assert.Equal([sleeper.Id], SandboxRunner.ProcessesOf(uid));
            Assert.DoesNotContain(sleeper.Id, SandboxRunner.ProcessesOf(uid + 1));
        }
        finally
        {
            sleeper.Kill();
            sleeper.WaitForExit();
        }

        Assert.Empty(SandboxRunner.ProcessesOf(uid));
    }
}
