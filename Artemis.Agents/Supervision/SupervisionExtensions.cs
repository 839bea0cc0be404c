using Npgsql;
using Polly;

namespace Artemis.Agents.Supervision;

public static class SupervisionExtensions
{
    /// <summary>
    /// The supervisor (a hosted service claiming cards), its runner, planner, developer agents and arbiter, the
    /// lessons store, and the Polly pipeline that keeps leases alive through database blips. Needs AddPersistence,
    /// AddMessaging, AddCosts, AddModels, AddCards, AddFiles and AddSandbox.
    /// </summary>
    public static IHostApplicationBuilder AddSupervision(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AgentsOptions>().BindConfiguration(AgentsOptions.SectionName);
        builder.Services.AddResiliencePipeline(Supervisor.LeasePipeline, pipeline => pipeline
            .AddRetry(new()
            {
                ShouldHandle = new PredicateBuilder().Handle<NpgsqlException>(exception => exception.IsTransient).Handle<TimeoutException>(),
                MaxRetryAttempts = 3,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(200),
            })
            .AddTimeout(TimeSpan.FromSeconds(5)));
        builder.Services.AddSingleton<CardLeases>();
        builder.Services.AddSingleton<AttemptWorkspaces>();
        builder.Services.AddSingleton<Lessons>();
        builder.Services.AddSingleton<Planner>();
        builder.Services.AddSingleton<DeveloperAgent>();
        builder.Services.AddSingleton<Arbiter>();
        builder.Services.AddSingleton<CardRunner>();
        builder.Services.AddSingleton<Supervisor>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Supervisor>());
        builder.Services.AddHostedService<OfflineDemoSample>();
        return builder;
    }
}
