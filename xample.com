id,updated_at,campaign,email,state,reason,attempts,code,enhanced,reply,account,message_id,sent_at
