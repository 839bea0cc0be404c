using System.Diagnostics;
using System.Globalization;
using System.Text;
using Artemis.Agents.Files;
using Artemis.Agents.Sandbox;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel;

namespace Artemis.Benchmarks;

/// <summary>
/// The sandbox's and the file tools' cost, each against its bare baseline measured in the same run, interleaved:
/// <c>python3 -c pass</c> through the whole sandbox (slot, chown, setpriv, prlimit, bwrap, output capture) vs started
/// directly; <c>read_file</c> of a 1 MiB file through the plugin (and through a Kernel) vs <c>File.ReadAllText</c>.
/// </summary>
internal static class SandboxBenchmark
{
    private const int Warmup = 3;
    private const int Runs = 41;
    private const int ReadBatches = 21;
    private const int ReadsPerBatch = 50;

    public static async Task<int> RunAsync(string[] args)
    {
        _ = args;
        var workspace = Directory.CreateTempSubdirectory("artemis-bench-sandbox-").FullName;
        try
        {
            var environment = SandboxEnvironment.Probe();
            if (!environment.Isolated)
            {
                await Console.Error.WriteLineAsync($"The sandbox is unavailable here: {environment.Problem}");
                return 1;
            }

            var report = new StringBuilder();
            report.AppendLine("# Sandbox and file tool benchmarks").AppendLine();
            report.AppendLine("Command: `dotnet run -c Release --project bench/Artemis.Benchmarks -- sandbox` (from the repository root, as root).");
            report.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.MachineName}, {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC.");
            report.AppendLine(CultureInfo.InvariantCulture, $"Load average at start (1, 5, 15 min): {string.Join(", ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3))} — the machine is shared; absolute times move with it, the interleaved ratios less.");
            report.AppendLine(CultureInfo.InvariantCulture, $"Each baseline is measured in the same run, interleaved with its figure; medians of {Runs} runs (sandbox) and {ReadBatches} batches of {ReadsPerBatch} reads (files), after warm-up.").AppendLine();
            report.AppendLine("| figure | measured | baseline (same run) | ratio / added | target | met |");
            report.AppendLine("|---|---|---|---|---|---|");

            var (sandboxed, chain, bare) = await PythonStartAsync(environment, workspace);
            var added = sandboxed - bare;
            report.AppendLine(CultureInfo.InvariantCulture,
                $"| `python3 -c pass` through the sandbox (SandboxRunner: slot, chown, setpriv, prlimit, bwrap, capture) | {sandboxed:0.0} ms | {bare:0.0} ms bare (`/usr/bin/python3 -c pass`, empty environment) | {sandboxed / bare:0.00}×, +{added:0.0} ms | ≤ +30 ms | {(added <= 30 ? "yes" : "**no**")} |");
            report.AppendLine(CultureInfo.InvariantCulture,
                $"| the launcher chain alone (setpriv → prlimit → bwrap with the same namespaces and mounts, no runner) | {chain:0.0} ms | {bare:0.0} ms bare | {chain / bare:0.00}×, +{chain - bare:0.0} ms | (where the time goes) | |");

            var (plugin, viaKernel, baseline) = await ReadFileAsync(workspace);
            report.AppendLine(CultureInfo.InvariantCulture,
                $"| `files.read_file` of 1 MiB, plugin method (resolve, open, read, JSON) | {plugin:0.000} ms | {baseline:0.000} ms `File.ReadAllText` | {plugin / baseline:0.00}× | ≤ 1.2× | {(plugin / baseline <= 1.2 ? "yes" : "**no**")} |");
            report.AppendLine(CultureInfo.InvariantCulture,
                $"| `files.read_file` of 1 MiB through `Kernel.InvokeAsync` | {viaKernel:0.000} ms | {baseline:0.000} ms `File.ReadAllText` | {viaKernel / baseline:0.00}× | (for information) | |");
            report.AppendLine();
            var runnerWork = sandboxed - chain;
            report.AppendLine(CultureInfo.InvariantCulture, $"What dominates: the launcher chain alone (three execs, new user, pid, net, ipc and uts namespaces, the mounts) adds {chain - bare:0.0} ms");
            report.AppendLine(runnerWork >= 1
                ? string.Create(CultureInfo.InvariantCulture, $"of the {added:0.0} ms; the runner's own work (slot lock, /proc scan for leftovers, chown and size walks of the workspace, job folder, output capture) the other {runnerWork:0.0} ms.")
                : string.Create(CultureInfo.InvariantCulture, $"of the {added:0.0} ms; the runner's own work (slot lock, /proc scan for leftovers, chown and size walks of the workspace, job folder, output capture) is within the noise of the two ({runnerWork:0.0} ms)."));
            report.AppendLine("read_file's JSON is written from the file's bytes straight into the result string (`JsonText`: a vectorized search for");
            report.AppendLine("the bytes to escape, the runs between decoded in place), so it costs about what decoding the file into a string does.");

            await BenchResults.WriteKeepingAnalysisAsync("sandbox.md", report.ToString());
            Console.WriteLine(report);
            return 0;
        }
        finally
        {
            Directory.Delete(workspace, recursive: true);
        }
    }

    private static async Task<(double Sandboxed, double Chain, double Bare)> PythonStartAsync(SandboxEnvironment environment, string workspace)
    {
        var runner = new SandboxRunner(Options.Create(new SandboxOptions()), environment, NullLogger<SandboxRunner>.Instance);
        var job = new SandboxJob(workspace, ["/usr/bin/python3", "-c", "pass"]);
        var chainArguments = SandboxRunner.SwitchUserArguments(SandboxRunner.UidBase - 2)
            .Concat(["/usr/bin/prlimit", "--nproc=64", "--", "/usr/bin/bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session"])
            .Concat(SandboxRunner.SystemMounts())
            .Concat(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--remount-ro", "/", "--clearenv", "--", "/usr/bin/python3", "-c", "pass"])
            .ToArray();
        var sandboxed = new List<double>();
        var chain = new List<double>();
        var bare = new List<double>();
        for (var i = 0; i < Warmup + Runs; i++)
        {
            var stopwatch = Stopwatch.StartNew();
            var result = await runner.RunAsync(job, CancellationToken.None);
            var sandboxMs = stopwatch.Elapsed.TotalMilliseconds;
            if (result.ExitCode != 0)
            {
                throw new InvalidOperationException($"python3 -c pass failed in the sandbox: {result.Stderr}");
            }

            var chainMs = await TimeProcessAsync("/usr/bin/setpriv", chainArguments, workspace);
            var bareMs = await TimeProcessAsync("/usr/bin/python3", ["-c", "pass"], workspace);
            if (i >= Warmup)
            {
                sandboxed.Add(sandboxMs);
                chain.Add(chainMs);
                bare.Add(bareMs);
            }
        }

        return (Median(sandboxed), Median(chain), Median(bare));
    }

    private static async Task<double> TimeProcessAsync(string program, string[] arguments, string workspace)
    {
        var stopwatch = Stopwatch.StartNew();
        var startInfo = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workspace };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        startInfo.Environment.Clear();
        startInfo.Environment["PATH"] = "/usr/bin:/bin";
        using var process = Process.Start(startInfo)!;
        var errors = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} failed: {await errors}");
        }

        return stopwatch.Elapsed.TotalMilliseconds;
    }

    private static async Task<(double Plugin, double Kernel, double Baseline)> ReadFileAsync(string workspace)
    {
        var line = new string('x', 127) + "\n";
        var content = string.Concat(Enumerable.Repeat(line, 1024 * 1024 / line.Length));
        await File.WriteAllTextAsync(Path.Combine(workspace, "one-mib.txt"), content);
        var fullPath = Path.Combine(workspace, "one-mib.txt");
        var files = new WorkspaceFiles(workspace, new WorkspaceOptions(), new FileOpenRequests(), NullLogger<WorkspaceFiles>.Instance);
        var kernel = new Kernel();
        kernel.ImportPluginFromObject(files, WorkspaceFiles.PluginName);
        var function = kernel.Plugins.GetFunction(WorkspaceFiles.PluginName, "read_file");
        var arguments = new KernelArguments { ["path"] = "one-mib.txt" };

        var plugin = new List<double>();
        var viaKernel = new List<double>();
        var baseline = new List<double>();
        long sink = 0;
        for (var batch = 0; batch < ReadBatches + 1; batch++)
        {
            var stopwatch = Stopwatch.StartNew();
            for (var i = 0; i < ReadsPerBatch; i++)
            {
                sink += File.ReadAllText(fullPath).Length;
            }

            var baselineMs = stopwatch.Elapsed.TotalMilliseconds / ReadsPerBatch;
            stopwatch.Restart();
            for (var i = 0; i < ReadsPerBatch; i++)
            {
                sink += (await files.ReadFileAsync("one-mib.txt")).Length;
            }

            var pluginMs = stopwatch.Elapsed.TotalMilliseconds / ReadsPerBatch;
            stopwatch.Restart();
            for (var i = 0; i < ReadsPerBatch; i++)
            {
                sink += (await kernel.InvokeAsync(function, arguments)).GetValue<string>()!.Length;
            }

            var kernelMs = stopwatch.Elapsed.TotalMilliseconds / ReadsPerBatch;
            if (batch > 0)
            {
                baseline.Add(baselineMs);
                plugin.Add(pluginMs);
                viaKernel.Add(kernelMs);
            }
        }

        GC.KeepAlive(sink);
        return (Median(plugin), Median(viaKernel), Median(baseline));
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }
}
