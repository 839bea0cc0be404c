using System.ClientModel;
using System.ClientModel.Primitives;
using Artemis.Agents.Costs;
using Microsoft.Extensions.AI;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using OpenAI;

namespace Artemis.Agents.Models;

public static class ModelsExtensions
{
    public const string HttpClientName = "model";

    /// <summary>
    /// One chat pipeline for every model call: function invocation → <see cref="CostFilter"/> → the official OpenAI
    /// client, whose HTTP goes through Microsoft.Extensions.Http.Resilience (retries with exponential backoff and
    /// jitter honouring Retry-After, circuit breaker, attempt and total timeouts, all from <c>Artemis:Model</c>).
    /// The OpenAI client's own retries are off, so Polly is the only one retrying.
    /// </summary>
    public static IHostApplicationBuilder AddModels(this IHostApplicationBuilder builder)
    {
        var model = ModelOptions.From(builder.Configuration);
        builder.Services.AddSingleton(model);

        // The model's HttpClient replaces ServiceDefaults' standard handler with one sized for model calls
        // (RemoveAllResilienceHandlers is marked experimental).
#pragma warning disable EXTEXP0001
        builder.Services.AddHttpClient(HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .RemoveAllResilienceHandlers()
            .AddStandardResilienceHandler(options =>
            {
                options.Retry.MaxRetryAttempts = Math.Max(1, model.MaxRetries);
                options.Retry.ShouldRetryAfterHeader = true;
                options.Retry.UseJitter = true;
                options.Retry.BackoffType = Polly.DelayBackoffType.Exponential;
                options.Retry.Delay = TimeSpan.FromMilliseconds(500);
                if (model.MaxRetries == 0)
                {
                    options.Retry.ShouldHandle = _ => ValueTask.FromResult(false);
                }

                options.AttemptTimeout.Timeout = TimeSpan.FromSeconds(model.AttemptTimeoutSeconds);
                options.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(model.TotalTimeoutSeconds);
                options.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(Math.Max(30, 2 * model.AttemptTimeoutSeconds));
            });
#pragma warning restore EXTEXP0001

        builder.Services.AddSingleton(sp =>
        {
            var http = sp.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName);
            return new OpenAIClient(
                new ApiKeyCredential(string.IsNullOrEmpty(model.ApiKey) ? "no-key" : model.ApiKey),
                new OpenAIClientOptions
                {
                    Endpoint = model.Endpoint,
                    Transport = new HttpClientPipelineTransport(http),
                    RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
                    NetworkTimeout = TimeSpan.FromSeconds(model.TotalTimeoutSeconds),
                });
        });

        // The first Use is the outermost: function invocation loops over requests, each priced, each traced.
        builder.Services.AddChatClient(sp => sp.GetRequiredService<OpenAIClient>().GetChatClient(model.Name).AsIChatClient())
            .UseFunctionInvocation()
            .Use((inner, sp) => ActivatorUtilities.CreateInstance<CostFilter>(sp, inner))
            .UseOpenTelemetry(sourceName: "Artemis.Models");

        // Semantic Kernel's chat service is this same pipeline: a kernel's prompts and its automatic function calling
        // go through function invocation → CostFilter → the OpenAI client, so nothing a kernel does is unpriced.
        builder.Services.AddSingleton<IChatCompletionService>(sp => sp.GetRequiredService<IChatClient>().AsChatCompletionService(sp));
        builder.Services.AddKernel();
        return builder;
    }
}
