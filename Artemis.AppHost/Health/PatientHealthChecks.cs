using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Artemis.AppHost.Health;

/// <summary>
/// Aspire checks a resource that is not yet healthy again after 1 s, then 2 s, … up to 5 s. A resource that becomes
/// ready a few milliseconds after a failed check therefore waits a second or more, and each level of the startup
/// chain (postgres → artemisdb → agents → web) pays it again. A patient check keeps trying every 100 ms for up to
/// 3 s before it reports unhealthy, so readiness is seen when it happens (ADR-003).
/// </summary>
public static class PatientHealthChecks
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(3);
    public static readonly TimeSpan Step = TimeSpan.FromMilliseconds(100);

    /// <summary>Makes every health check the AppHost runs for its resources patient.</summary>
    public static IServiceCollection AddPatientHealthChecks(this IServiceCollection services) =>
        services.PostConfigure<HealthCheckServiceOptions>(options =>
        {
            foreach (var registration in options.Registrations)
            {
                var factory = registration.Factory;
                registration.Factory = provider => new PatientHealthCheck(factory(provider), Patience, Step);
            }
        });

    internal sealed class PatientHealthCheck(IHealthCheck inner, TimeSpan patience, TimeSpan step) : IHealthCheck
    {
        public IHealthCheck Inner => inner;

        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var started = Stopwatch.GetTimestamp();
            while (true)
            {
                HealthCheckResult result;
                try
                {
                    result = await inner.CheckHealthAsync(context, cancellationToken);
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    result = new HealthCheckResult(context.Registration.FailureStatus, exception.Message, exception);
                }

                if (result.Status == HealthStatus.Healthy || Stopwatch.GetElapsedTime(started) + step > patience)
                {
                    return result;
                }

                await Task.Delay(step, cancellationToken);
            }
        }
    }
}
