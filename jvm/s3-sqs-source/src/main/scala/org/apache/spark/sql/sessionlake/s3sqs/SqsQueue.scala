package org.apache.spark.sql.sessionlake.s3sqs

import java.net.URI

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider
import software.amazon.awssdk.http.apache.ApacheHttpClient
import software.amazon.awssdk.regions.Region
import software.amazon.awssdk.services.sqs.SqsClient
import software.amazon.awssdk.services.sqs.model.{DeleteMessageBatchRequest, DeleteMessageBatchRequestEntry, GetQueueAttributesRequest, Message, MessageSystemAttributeName, QueueAttributeName, ReceiveMessageRequest}

import org.apache.spark.internal.Logging

/** The queue, through the AWS SDK v2 (credentials from the default provider chain). */
class SqsQueue(options: S3SqsOptions) extends Logging {
  val Batch = 10 // the most messages one ReceiveMessage / DeleteMessageBatch handles

  private val client: SqsClient = {
    val builder = SqsClient.builder()
      .httpClientBuilder(ApacheHttpClient.builder().maxConnections(8))
      .region(Region.of(options.region))
      .credentialsProvider(DefaultCredentialsProvider.create())
    options.endpoint.foreach(e => builder.endpointOverride(URI.create(e)))
    builder.build()
  }

  @volatile var requests = 0L // requests sent, for the benchmark

  def receive(max: Int = Batch): Seq[Message] = {
    val request = ReceiveMessageRequest.builder()
      .queueUrl(options.queueUrl)
      .maxNumberOfMessages(math.max(1, math.min(Batch, max)))
      .waitTimeSeconds(options.waitTimeSeconds)
      .messageSystemAttributeNames(MessageSystemAttributeName.APPROXIMATE_RECEIVE_COUNT)
    options.visibilityTimeout.foreach(v => request.visibilityTimeout(v))
    requests += 1
    client.receiveMessage(request.build()).messages().asScala.toSeq
  }

  /** Delete messages; a failure (e.g. an expired receipt handle) only means the message comes back,
   * is recognised as logged, and is deleted then. */
  def delete(receiptHandles: Seq[String]): Unit = {
    receiptHandles.distinct.grouped(Batch).foreach { chunk =>
      val entries = chunk.zipWithIndex.map { case (handle, i) =>
        DeleteMessageBatchRequestEntry.builder().id(i.toString).receiptHandle(handle).build()
      }
      try {
        requests += 1
        val response = client.deleteMessageBatch(
          DeleteMessageBatchRequest.builder().queueUrl(options.queueUrl).entries(entries.asJava).build())
        response.failed().asScala.foreach { f =>
          logWarning(s"s3-sqs: could not delete a message from ${options.queueUrl} (${f.code()}: " +
            s"${f.message()}); it will be redelivered and recognised as logged")
        }
      } catch {
        case NonFatal(e) =>
          logWarning(s"s3-sqs: could not delete ${chunk.size} message(s) from ${options.queueUrl}; " +
            "they will be redelivered and recognised as logged", e)
      }
    }
  }

  /** ApproximateNumberOfMessages and ...NotVisible, or empty if SQS does not answer. */
  def backlog(): Map[String, Long] = try {
    requests += 1
    val response = client.getQueueAttributes(GetQueueAttributesRequest.builder()
      .queueUrl(options.queueUrl)
      .attributeNames(
        QueueAttributeName.APPROXIMATE_NUMBER_OF_MESSAGES,
        QueueAttributeName.APPROXIMATE_NUMBER_OF_MESSAGES_NOT_VISIBLE)
      .build())
    response.attributesAsStrings().asScala.toMap.flatMap { case (k, v) => v.toLongOption.map(k -> _) }
  } catch {
    case NonFatal(e) =>
      logWarning(s"s3-sqs: could not read the backlog of ${options.queueUrl}: ${e.getMessage}")
      Map.empty
  }

  def close(): Unit = client.close()
}
