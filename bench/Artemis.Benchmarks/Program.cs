using Artemis.Benchmarks;

// dotnet run -c Release --project bench/Artemis.Benchmarks -- costs   → bench/results/costs.md
//                                                        -- sandbox → bench/results/sandbox.md
//                                                        -- voice   → bench/results/voice.md
//                                                        -- events  → bench/results/events.md
//                                                        -- pipeline → bench/results/pipeline.md
return args.FirstOrDefault() switch
{
    "costs" => await CostsBenchmark.RunAsync(args.Skip(1).ToArray()),
    "sandbox" => await SandboxBenchmark.RunAsync(args.Skip(1).ToArray()),
    "voice" => await VoiceBenchmark.RunAsync(args.Skip(1).ToArray()),
    "events" => await EventsBenchmark.RunAsync(args.Skip(1).ToArray()),
    "pipeline" => await PipelineBenchmark.RunAsync(args.Skip(1).ToArray()),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: Artemis.Benchmarks costs|sandbox|voice|events|pipeline");
    return 1;
}
